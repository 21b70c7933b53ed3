"""`finseg watch SEGMENT_ID`: a live segment's events as they happen."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from finseg.v1 import segments_pb2

from .connection import connect
from .failures import CliError
from .segments import calling

COLUMNS = ("sequence", "type", "user_id", "cause", "batch_id", "time")


def event_row(event: segments_pb2.SegmentEvent) -> dict[str, Any]:
    return {"sequence": event.sequence,
            "type": segments_pb2.SegmentEventType.Name(event.type).removeprefix(
                "SEGMENT_EVENT_TYPE_"),
            "user_id": "(erased)" if event.erased else event.user_id,
            "cause": segments_pb2.EventCause.Name(event.cause).removeprefix("EVENT_CAUSE_"),
            "batch_id": event.batch_id,
            "time": event.time.ToDatetime().isoformat(timespec="milliseconds") + "Z"}


@calling()
def cmd_watch(args: argparse.Namespace) -> int:
    """Prints each event on its own line as it comes (flushed, for a pipe);
    `--after` resumes after the last sequence seen."""
    if args.after < 0:
        raise CliError("--after must be 0 or a sequence the segment had", 2)
    with connect(args) as client:
        if args.output == "text":
            print("\t".join(COLUMNS), flush=True)
        try:
            for event in client.watch_segment(args.segment_id, args.after, args.for_seconds):
                row = event_row(event)
                line = (json.dumps(row) if args.output == "jsonl"
                        else "\t".join(str(row[c]) for c in COLUMNS))
                print(line, flush=True)
        except KeyboardInterrupt:
            return 130
        finally:
            sys.stdout.flush()
    return 0


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    watch = sub.add_parser("watch", parents=[conn],
                           help="print a live segment's ENTER/EXIT events as they happen")
    watch.add_argument("segment_id")
    watch.add_argument("--after", type=int, default=0, metavar="SEQUENCE",
                       help="start after this sequence, the last one printed before "
                            "(default 0: every event kept)")
    watch.add_argument("--output", choices=("text", "jsonl"), default="text",
                       help="text (tab-separated, a header first; default) or jsonl")
    watch.add_argument("--for", dest="for_seconds", type=float, metavar="SECONDS",
                       help="stop after this long (default: until interrupted)")
    watch.set_defaults(func=cmd_watch)
