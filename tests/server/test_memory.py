"""`finseg serve` keeps the memory it frees (finseg.server.memory)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_is_told_to_keep_freed_memory_and_arrow_to_use_it() -> None:
    # In a process of its own: the test process keeps its allocator as it is.
    subprocess.run([sys.executable, "-c", "import pyarrow as pa; "
                    "from finseg.server.memory import keep_freed_memory; "
                    "assert keep_freed_memory(); "
                    "assert pa.default_memory_pool().backend_name == 'system'"],
                   check=True, timeout=60)
