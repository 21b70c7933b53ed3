"""The Node.js client (clients/node/segments.js) run against a test server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from conftest import token_for

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "node" / "segments.js"


def run_segments(target: str, tenant: str, spec: dict[str, Any], page_size: int = 0
                 ) -> dict[str, Any]:
    """What the script saw creating, paging and streaming `spec`, and the
    BadRequest of a bad spec."""
    node = shutil.which("node")
    assert node, "the tests need Node.js 20 (node on PATH)"
    assert (SCRIPT.parent / "node_modules").is_dir(), \
        "run `npm ci` in clients/node first (make test does)"
    done = subprocess.run([node, str(SCRIPT), target, json.dumps(spec), str(page_size)],
                          capture_output=True, text=True, timeout=180,
                          env={"FINSEG_TOKEN": token_for(tenant), "PATH": ""})
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
