"""The command line as its users meet it (issue 13, point 15): `finseg token`
away from the project, and the commands around segments."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jwt
from test_cli import FINSEG


def run_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FINSEG, *args], capture_output=True, text=True, timeout=120,
                          cwd=directory)


def test_token_outside_the_project_does_not_make_a_secret_silently(tmp_path: Path) -> None:
    out = run_in(tmp_path, "token", "--tenant", "acme")
    assert out.returncode == 2 and out.stdout == ""
    assert f"no secret at {tmp_path / 'finseg-dev-secret'}" in out.stderr
    assert "--secret-file" in out.stderr and "--create-secret" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "finseg-dev-secret").exists()

    made = run_in(tmp_path, "token", "--tenant", "acme", "--create-secret")
    assert made.returncode == 0, made.stderr
    secret = tmp_path / "finseg-dev-secret"
    assert f"made a new secret in {secret}" in made.stderr
    assert f"--jwt-key-file {secret}" in made.stderr
    claims = jwt.decode(made.stdout.strip(), secret.read_bytes().strip(), algorithms=["HS256"],
                        audience="finseg")
    assert claims["tenant"] == "acme"

    # An existing secret is used as it is, without a word.
    again = run_in(tmp_path, "token", "--tenant", "acme")
    assert again.returncode == 0 and again.stderr == ""
    elsewhere = run_in(tmp_path.parent, "token", "--tenant", "acme", "--secret-file",
                       str(secret))
    assert elsewhere.returncode == 0 and elsewhere.stderr == ""
    jwt.decode(elsewhere.stdout.strip(), secret.read_bytes().strip(), algorithms=["HS256"],
               audience="finseg")
