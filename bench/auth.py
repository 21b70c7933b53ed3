"""What token verification costs per call (issue 5): `python -m bench.auth`
(`make bench-auth`).

Starts `finseg serve` as a separate process per mode: development mode
(calls without a token, nothing verified), HS256 and RS256 with one token
(verified once, then answered by the verified-token cache) and with a new
token per call (verified every time). Against each, a client makes
`--calls` GetTaxonomy calls one after another (a call that touches little
else, so the difference is the interceptor's work) and takes the median
latency. The servers take turns for `--rounds` rounds;
the report gives, per mode, the median of the rounds' medians, and the
added latency against development mode.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from finseg.cli.tokens import ensure_secret, mint
from finseg.client import api

from .run import Server, free_port


class ModeServer(Server):
    """A `finseg serve` with the given security flags."""

    def __init__(self, data_dir: Path, flags: list[str]) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finseg.cli.main", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--plaintext", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def median_latency(target: str, tokens: list[str | None], calls: int) -> float:
    """Median latency of `calls` calls, cycling through `tokens` (one token:
    the verified-token cache answers; a new token per call: it cannot)."""
    with api.FinsegClient(target, tokens[0], timeout=10) as client:
        client.get_taxonomy()  # connection and first-call costs out of the way

        def next_token(i: int) -> None:
            token = tokens[(i + 1) % len(tokens)]
            client.metadata = (("authorization", f"Bearer {token}"),) if token else ()

        return median_seconds(client.get_taxonomy, calls, before=next_token)


def median_seconds(call: Callable[[], object], calls: int,
                   before: Callable[[int], None] | None = None) -> float:
    """The median time of `calls` calls of `call`, one after another;
    `before(i)`, untimed, ahead of the i-th."""
    times = []
    for i in range(calls):
        if before is not None:
            before(i)
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="finseg-bench-auth-"))
    secret = ensure_secret(work / "secret")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "public.pem").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    now = int(time.time())

    def rs256(n: int) -> str:
        return jwt.encode({"tenant": "bench", "scope": "segments:read", "aud": "finseg",
                           "iss": "finseg", "sub": f"bench-{n}", "exp": now + 7200}, private,
                          "RS256")

    def hs256(n: int) -> str:
        return mint(secret, "bench", ["segments:read"], subject=f"bench-{n}", ttl_seconds=7200)

    hs_flags = ["--jwt-key-file", str(work / "secret")]
    rs_flags = ["--jwt-algorithm", "RS256", "--jwt-key-file", str(work / "public.pem")]
    def fresh(sign: Callable[[int], str], round_number: int) -> list[str | None]:
        """Tokens no earlier round sent, so none is in the server's cache."""
        first = round_number * (args.calls + 1)
        return [sign(n) for n in range(first, first + args.calls + 1)]

    modes: dict[str, tuple[list[str], Callable[[int], list[str | None]]]] = {
        "development (no token)": (["--dev-tenant", "bench"], lambda r: [None]),
        "HS256": (hs_flags, lambda r: [hs256(-1)]),
        "HS256, new token per call": (hs_flags, lambda r: fresh(hs256, r)),
        "RS256 (2048-bit)": (rs_flags, lambda r: [rs256(-1)]),
        "RS256, new token per call": (rs_flags, lambda r: fresh(rs256, r)),
    }
    servers = {name: ModeServer(work / name.replace(" ", "-"), flags)
               for name, (flags, _tokens) in modes.items()}
    try:
        for server in servers.values():
            server.wait_ready()
        medians: dict[str, list[float]] = {name: [] for name in modes}
        for round_number in range(args.rounds):
            for name, (_flags, tokens) in modes.items():
                medians[name].append(median_latency(servers[name].target,
                                                    tokens(round_number), args.calls))
    finally:
        for server in servers.values():
            server.stop()
    print_medians(f"GetTaxonomy, {args.calls} sequential calls x {args.rounds} rounds per mode",
                  medians, "development (no token)")


def print_medians(title: str, medians: dict[str, list[float]], base: str) -> None:
    """Each mode's median of its rounds' medians, and what it adds to `base`'s."""
    reference = statistics.median(medians[base])
    width = max(len(name) for name in medians)
    print(title)
    for name, values in medians.items():
        value = statistics.median(values)
        runs = ", ".join(f"{1e6 * v:.0f}" for v in values)
        print(f"{name:>{width}}: p50 {1e6 * value:6.0f} us  (+{1e6 * (value - reference):5.0f} "
              f"us)  rounds: {runs}")


if __name__ == "__main__":
    main()
