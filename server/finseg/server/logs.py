"""The service's log: text lines or JSON lines on stderr.

Nothing logged may carry a user id, an account id or an amount. Log calls
pass only method names, tenants, segment ids, codes and counts; and since
an exception's message may quote what a request sent (a KeyError names the
missing id, Arrow quotes the value it could not parse), tracebacks are
logged with the exception's type and frames but without its message, save
for the system's own errors (OSError, LMDB's), which quote no request.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import traceback
from typing import Any

FORMATS = ("text", "json")


def _message_kept(exc: BaseException) -> bool:
    # By module name: LMDB is storage's to import.
    return isinstance(exc, OSError) or type(exc).__module__ == "lmdb"


_CAUSE = "\n\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\n\nDuring handling of the above exception, another exception occurred:\n\n"


def withheld_traceback(exc_info: Any) -> str:
    """A traceback as Python prints it, with each exception's message
    withheld unless it is a system error."""
    text = ""
    exc: BaseException | None = exc_info[1]
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 10:
        seen.add(id(exc))
        message = str(exc) if _message_kept(exc) else "(message withheld: it may quote a request)"
        text = ("Traceback (most recent call last):\n" +
                "".join(traceback.format_tb(exc.__traceback__)) +
                f"{type(exc).__module__}.{type(exc).__qualname__}: {message}" + text)
        if exc.__cause__ is not None:
            exc, text = exc.__cause__, _CAUSE + text
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, text = exc.__context__, _CONTEXT + text
        else:
            exc = None
    return text


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return withheld_traceback(ei)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message,
    the record's `fields` (extra={"fields": {...}}), and `traceback`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = withheld_traceback(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """The process's logging: `fmt` lines on stderr at `level`; Python
    warnings and uncaught exceptions of threads go through it too, so a
    JSON log stays JSON."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: choose one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Neither format prints the caller's file, thread or process, and a
    # line per call makes them worth skipping (the logging HOWTO's
    # "Optimization"): about 10 µs a line.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.captureWarnings(True)

    def thread_failed(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        if args.exc_value is not None:
            logging.getLogger("finseg").error(
                "thread %s failed", name,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    threading.excepthook = thread_failed
