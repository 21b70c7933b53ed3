"""finseg-client installs on its own: its wheel, with its dependencies from
the package index, into a fresh virtual environment without numpy, numba,
lmdb or pyarrow, works against a real server."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import token_for

ROOT = Path(__file__).resolve().parents[1]

#: Runs in the fresh environment, against the server at argv[1].
SCRIPT = r'''
import datetime as dt, importlib.util, json, sys
from decimal import Decimal

import finseg.client.api as api
from finseg.client import errors

absent = [m for m in ("numpy", "numba", "lmdb", "pyarrow") if importlib.util.find_spec(m)]
with api.FinsegClient(sys.argv[1], sys.argv[2]) as client:
    client.upsert_accounts([
        {"account_id": f"a{i:03}", "user_id": f"u{i:03}", "type": "CHECKING",
         "currency": "EUR", "balance": f"{i}.00", "balance_date": "2026-03-01"}
        for i in range(250)])
    job = client.create_segment(api.high_balance("EUR", Decimal("99.99"),
                                                 as_of=dt.date(2026, 3, 10)))
    pages = list(client.pages(job.segment_id, page_size=40))
    users = [m.user_id for p in pages for m in api.page_members(p.page)]
    try:
        client.create_segment(api.low_balance("EUR", "0", months=0))
        violations = None
    except errors.InvalidArgument as error:
        violations = [v.field for v in error.violations]
print(json.dumps({"module": api.__file__, "installed_but_unwanted": absent,
                  "pages": len(pages), "users": users, "violations": violations}))
'''


def _sources(dest: Path) -> Path:
    """What the two builds read, copied so that they leave nothing in the
    checkout (setuptools builds in place)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("server", "client"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


#: The tests' environment without what points at this checkout's sources.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=240, cwd=cwd, env=ENV)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return str(done.stdout)


def test_the_client_wheel_installs_alone_and_works(tmp_path: Path, target: str) -> None:
    source, wheels = _sources(tmp_path / "src"), tmp_path / "wheels"
    # With setuptools at hand, no isolated build environment to download.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation,
         "--wheel-dir", wheels, source / "client", source)
    (client_wheel,) = wheels.glob("finseg_client-*.whl")
    (server_wheel,) = wheels.glob("finseg-*.whl")
    with zipfile.ZipFile(server_wheel) as server:
        names = server.namelist()
        metadata = server.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert not [n for n in names if n.startswith(("finseg/client/", "finseg/v1/"))]
    assert "Requires-Dist: finseg-client==" in metadata

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # The outer pip installs into the fresh environment: the wheel, and its
    # dependencies from the package index.
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
         "--disable-pip-version-check", client_wheel)
    (tmp_path / "use.py").write_text(SCRIPT)
    out = json.loads(_run(python, tmp_path / "use.py", target, token_for("fresh"),
                          cwd=tmp_path))
    assert Path(out["module"]).is_relative_to(venv)
    assert out["installed_but_unwanted"] == []
    assert out["users"] == [f"u{i:03}" for i in range(100, 250)]
    assert out["pages"] == 4  # 150 members in pages of 40
    assert out["violations"] == ["spec.low_balance.months"]
