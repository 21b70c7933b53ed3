"""`make test` checks protos/ against the last release's API, a buf image
in protos/releases/ (CI has no tags to compare with): what the release
served passes, a change that would break its clients fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUF = Path(sys.executable).parent / "buf"
RELEASE = re.search(r"^RELEASE := (\S+)$", (ROOT / "Makefile").read_text(), re.M)


def breaking(protos: Path) -> subprocess.CompletedProcess[str]:
    """The Makefile's proto-release-check, on `protos`."""
    assert BUF.exists(), "buf comes with the dev dependencies (make test installs it)"
    assert RELEASE, "the Makefile names the last release (RELEASE := vX.Y.Z)"
    releases = ROOT / "protos" / "releases"
    return subprocess.run([str(BUF), "breaking", "--against",
                           str(releases / f"{RELEASE[1]}.binpb"),
                           "--config", str(releases / "breaking.yaml")],
                          cwd=protos, capture_output=True, text=True, timeout=60)


def test_the_protos_keep_the_last_release_api() -> None:
    done = breaking(ROOT / "protos")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("before", "after", "expected"), [
    ("  int64 total_pages = 3;\n", "", 'Previously present field "3" with name "total_pages"'),
    ("  int32 page_size = 2;\n", "  int64 page_size = 2;\n", 'from "int32" to "int64"'),
], ids=["removed", "retyped"])
def test_a_change_that_breaks_clients_is_refused(tmp_path: Path, before: str, after: str,
                                                 expected: str) -> None:
    protos = shutil.copytree(ROOT / "protos", tmp_path / "protos")
    segments = protos / "finseg" / "v1" / "segments.proto"
    segments.write_text(segments.read_text().replace(before, after, 1))
    done = breaking(protos)
    assert done.returncode != 0 and expected in done.stdout, done.stdout + done.stderr
