"""Generates finseg's Python stubs from protos/ and checks they are current.

`python -m finseg.cli.protogen OUT` writes the stubs to OUT;
`--check` writes them to a temporary folder and fails when OUT differs, so
CI catches stubs that were not regenerated after a .proto changed.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[3]
PROTO_ROOT = ROOT / "protos"


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("finseg/v1/*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{Path(protoc.__file__).parent / '_proto'}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("*_pb2*.py*"):
            stale.unlink()
        for f in sorted((Path(tmp) / "finseg" / "v1").iterdir()):
            (out / f.name).write_bytes(f.read_bytes())
        init = out / "__init__.py"
        if not init.exists():
            init.write_text('"""Generated protobuf and gRPC stubs for finseg.v1 (make proto)."""\n')


def check(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "v1"
        generate(fresh)
        names = {p.name for p in fresh.iterdir()} | {p.name for p in out.glob("*_pb2*.py*")}
        stale = [n for n in sorted(names) if n != "__init__.py" and not (
            (out / n).exists() and (fresh / n).exists()
            and filecmp.cmp(out / n, fresh / n, shallow=False))]
    if stale:
        print(f"stale generated stubs in {out}: {', '.join(stale)}; run `make proto`",
              file=sys.stderr)
        return 1
    print(f"generated stubs in {out} are current")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(check(args.out))
    generate(args.out)


if __name__ == "__main__":
    main()
