"""Fault injection for crash tests: with FINSEG_KILL_AT set to a point's
name, the process SIGKILLs itself when it reaches that point, so a test can
stop it exactly there (a kill from outside lands anywhere)."""

from __future__ import annotations

import os
import signal

VARIABLE = "FINSEG_KILL_AT"


def point(name: str) -> None:
    """Marks a point a crash test may stop the process at."""
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
