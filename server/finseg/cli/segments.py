"""`finseg segment <type>` (create, wait, print), `finseg segments
list|get|cancel|delete`, `finseg audit` and `finseg usage`."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import grpc
from tqdm import tqdm

from finseg.client import api
from finseg.v1 import common_pb2, segments_pb2

from . import failures, output
from .connection import StreamStalled, connect, timeout_of, watched
from .failures import CliError

KINDS = ("high-balance", "low-balance", "income-spending-summary", "financial-breakdown",
         "insurance-spending", "rfm", "rule", "merchant-affinity")
ACCOUNT_TYPES = tuple(name.removeprefix("ACCOUNT_TYPE_")
                      for name in common_pb2.AccountType.keys()[1:])
STATES = tuple(name.removeprefix("JOB_STATE_") for name in segments_pb2.JobState.keys()[1:])
TYPES = tuple(name.removeprefix("SEGMENT_TYPE_")
              for name in segments_pb2.SegmentType.keys()[1:])

#: The service names a spec's fields by their proto paths; the user typed
#: flags. Longest paths first, so `to_date` alone is renamed last.
FLAGS = (
    (r"spec\.income_spending_summary\.from_date", "--from"),
    (r"spec\.income_spending_summary\.to_date", "--to"),
    (r"spec\.financial_breakdown\.label_groups(?:\[\d+\])?", "--group"),
    (r"spec\.insurance_spending\.insurance_types(?:\[\d+\])?", "--insurance-type"),
    (r"spec\.rule\.expression", "the rule"),
    (r"spec\.rule\.currency", "--currency"),
    (r"spec\.rfm\.window_days", "--window-days"),
    (r"spec\.rfm\.label_groups(?:\[\d+\])?", "--label-group"),
    (r"spec\.rfm\.segment_names(?:\[\d+\])?", "--segment-name"),
    (r"spec\.rfm\.currency", "--currency"),
    (r"spec\.merchant_affinity\.min_customers", "--min-customers"),
    (r"spec\.merchant_affinity\.counterparty", "--counterparty"),
    (r"spec\.\w+\.threshold\.currency", "--currency"),
    (r"spec\.\w+\.threshold(?:\.amount)?", "--threshold"),
    (r"spec\.\w+\.months", "--months"),
    (r"spec\.as_of", "--as-of"),
    (r"spec\.account_types(?:\[\d+\])?", "--account-type"),
    (r"(?<![\w.])page_size\b", "--page-size"),
    (r"(?<![\w.-])from_date\b", "--from"),
    (r"(?<![\w.-])to_date\b", "--to"),
)


def as_flags(message: str) -> str:
    for path, flag in FLAGS:
        message = re.sub(path, flag, message)
    return message


def account_type(text: str) -> str:
    name = text.strip().upper()
    if name not in ACCOUNT_TYPES:
        raise argparse.ArgumentTypeError(f"{text!r} is not an account type; allowed: "
                                         f"{', '.join(ACCOUNT_TYPES)}")
    return name


def _choice(allowed: tuple[str, ...], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        name = text.strip().upper().replace("-", "_")
        if name not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}; allowed: "
                                             f"{', '.join(allowed)}")
        return name
    return parse


def moment(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time (2026-11-01 or "
                                         "2026-11-01T08:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def calling(rename: Callable[[str], str] = lambda text: text
            ) -> Callable[[Callable[[argparse.Namespace], int]],
                          Callable[[argparse.Namespace], int]]:
    """A command whose failed calls become one line naming the target."""
    def wrap(command: Callable[[argparse.Namespace], int]
             ) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except grpc.RpcError as error:
                raise CliError(failures.describe(error, args.target, timeout_of(args),
                                                 rename)) from None
            except StreamStalled as stalled:
                raise CliError(f"no answer from {args.target} within --timeout "
                               f"{stalled.timeout:g} s") from None
        return run
    return wrap


# ---- creating ------------------------------------------------------------

def spec(args: argparse.Namespace) -> segments_pb2.SegmentSpec:
    made = _spec(args)
    if getattr(args, "live", False):
        if args.as_of is not None:
            raise CliError("--as-of cannot go with --live: a live segment is always as of "
                           "the service's today", 2)
        made = api.live(made)
    return made


def _spec(args: argparse.Namespace) -> segments_pb2.SegmentSpec:
    types = args.account_type or ()
    if args.kind == "income-spending-summary":
        return api.income_spending_summary(args.from_date, args.to_date, account_types=types)
    if args.kind == "financial-breakdown":
        return api.financial_breakdown(args.group, args.months, as_of=args.as_of,
                                       account_types=types)
    if args.kind == "rule":
        return api.rule(args.expression, currency=args.currency, as_of=args.as_of,
                        account_types=types)
    if args.kind == "insurance-spending":
        return api.insurance_spending(args.months, args.insurance_type or (), as_of=args.as_of,
                                      account_types=types)
    if args.kind == "merchant-affinity":
        return api.merchant_affinity(args.months, args.min_customers, args.counterparty or "",
                                     as_of=args.as_of, account_types=types)
    if args.kind == "rfm":
        return api.rfm(args.window_days, args.label_group or (), currency=args.currency,
                       segment_names=args.segment_name or (), account_types=types,
                       as_of=args.as_of)
    try:
        api.minor_units("0", args.currency)
    except ValueError as error:
        raise CliError(f"--currency: {error}", 2) from None
    try:
        threshold = api.minor_units(args.threshold, args.currency)
    except ValueError as error:
        raise CliError(f"--threshold: {error}", 2) from None
    common = {"as_of": args.as_of, "account_types": types}
    if args.kind == "high-balance":
        return api.high_balance(args.currency, threshold, **common)
    return api.low_balance(args.currency, threshold, args.months, **common)


def wait(client: api.FinsegClient, segment_id: str, quiet: bool) -> None:
    """Until the segment is neither PENDING nor RUNNING. Polled with
    ListSegments of those states: GetSegment would return (and bill) a page
    of members once the job succeeded."""
    with tqdm(total=100, unit="%", desc="computing", disable=quiet, leave=False,
              bar_format="{l_bar}{bar}| {elapsed}") as bar:
        while True:
            live = {s.segment_id: s for s in client.list_segments(("PENDING", "RUNNING"))}
            if segment_id not in live:
                return
            bar.update(round(live[segment_id].progress * 100) - bar.n)
            time.sleep(0.1)


def print_members(client: api.FinsegClient, segment_id: str, args: argparse.Namespace,
                  note: str = "") -> int:
    """The members of a finished segment on stdout, a summary on stderr;
    StreamSegment says FAILED and CANCELLED as errors."""
    members: list[Any] = []
    segment = segments_pb2.Segment()
    for response in watched(client.stream_segment(segment_id, args.page_size),
                            timeout_of(args)):
        segment = response.segment
        kind = response.page.WhichOneof("rows")
        if kind:
            members.extend(getattr(response.page, kind).members)
    print(f"segment {segment_id}: {len(members)} members"
          + (f" (as_of {segment.as_of}{note})" if segment.as_of else ""), file=sys.stderr)
    type_name = output.type_name(segment.type)
    # RULE and RFM members carry no currency: the spec names it (RFM echoes
    # its default).
    currency = segment.spec.rule.currency or segment.spec.rfm.currency or "EUR"
    if segment.spec.merchant_affinity.counterparty:
        type_name = "MERCHANT_CUSTOMERS"  # a drill-down lists customers, not merchants
    output.write((row for member in members for row in output.member_rows(member, currency)),
                 output.MEMBER_COLUMNS[type_name], args.output, sys.stdout)
    return 0


@calling(as_flags)
def cmd_segment(args: argparse.Namespace) -> int:
    request = spec(args)
    with connect(args) as client:
        segment = client.create_segment(request)
        try:
            wait(client, segment.segment_id, args.quiet)
        except KeyboardInterrupt:
            raise CliError(f"interrupted; segment {segment.segment_id} goes on computing: "
                           f"`finseg segments get {segment.segment_id}` prints it, `finseg "
                           f"segments cancel {segment.segment_id}` stops it", 130) from None
        # The service's default as_of is its today; data of another period
        # then gives an empty result, which should not look like a verdict.
        defaulted = args.kind != "income-spending-summary" and args.as_of is None
        note = ", today for the service; --as-of picks another day" if defaulted else ""
        if getattr(args, "live", False):
            note = f"; live: `finseg watch {segment.segment_id}` prints its events"
        return print_members(client, segment.segment_id, args, note)


# ---- managing ------------------------------------------------------------

@calling()
def cmd_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        rows = [output.segment_row(s) for s in client.list_segments(args.state or (),
                                                                    args.type or ())]
    output.write(rows, output.SEGMENT_COLUMNS, args.output, sys.stdout)
    return 0


@calling()
def cmd_get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        wait(client, args.segment_id, args.quiet)
        return print_members(client, args.segment_id, args)


@calling()
def cmd_cancel(args: argparse.Namespace) -> int:
    with connect(args) as client:
        segment = client.cancel_segment(args.segment_id)
    print(f"segment {segment.segment_id}: {output.segment_row(segment)['state']}",
          file=sys.stderr)
    return 0


@calling()
def cmd_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.delete_segment(args.segment_id)
    print(f"segment {args.segment_id}: deleted with its results", file=sys.stderr)
    return 0


@calling()
def cmd_audit(args: argparse.Namespace) -> int:
    with connect(args) as client:
        rows = [output.audit_row(e) for e in client.audit_events(args.since, args.until)]
    output.write(rows, output.AUDIT_COLUMNS, args.output, sys.stdout)
    return 0


@calling()
def cmd_usage(args: argparse.Namespace) -> int:
    with connect(args) as client:
        usage = client.usage_by_type()
    output.write([output.usage_row(name, usage[name]) for name in TYPES if name in usage],
                 output.USAGE_COLUMNS, args.output, sys.stdout)
    return 0


# ---- wiring --------------------------------------------------------------

def date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=output.FORMATS, default="table",
                        help="table (default), csv, json (one array) or jsonl (one object "
                             "a line); money is decimal text in major units in each")


def add_parsers(sub: Any, conn: argparse.ArgumentParser) -> None:
    seg = sub.add_parser("segment", help="create a segment, wait, print its members")
    kinds = seg.add_subparsers(dest="kind", required=True, metavar="TYPE")
    for kind in KINDS:
        k = kinds.add_parser(kind, parents=[conn], help=f"a {kind.upper()} segment")
        if kind == "financial-breakdown":
            k.add_argument("--group", action="append", required=True,
                           help="label group (repeatable), e.g. INCOME or INSURANCE.CAR")
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-12")
        elif kind == "insurance-spending":
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-24")
            k.add_argument("--insurance-type", action="append",
                           help="keep only this type (repeatable), e.g. CAR; default: all")
        elif kind == "rule":
            k.add_argument("expression", help="e.g. 'frequency(days=30) > 3 AND "
                                              "avg_spend(days=30) > 50' (docs/segment-types.md)")
            k.add_argument("--currency", default="EUR",
                           help="of the accounts read and of the money in the rule")
        elif kind == "rfm":
            k.add_argument("--window-days", type=int, required=True, metavar="N",
                           help="the N days up to --as-of, which is included: 1-3660")
            k.add_argument("--label-group", action="append",
                           help="count only transactions of this label group (repeatable), "
                                "e.g. SHOPPING; default: all")
            k.add_argument("--currency", default="EUR",
                           help="only accounts in this currency (default EUR)")
            k.add_argument("--segment-name", action="append",
                           help="keep only users of this segment (repeatable), e.g. "
                                "Champions or 'At risk'; default: all")
        elif kind == "merchant-affinity":
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-24")
            k.add_argument("--min-customers", type=int, default=0, metavar="N",
                           help="keep only merchants with at least N customers (default: all)")
            k.add_argument("--counterparty", metavar="NAME",
                           help="list this merchant's customers instead (any spelling)")
        elif kind == "income-spending-summary":
            k.add_argument("--from", dest="from_date", type=date_argument, required=True,
                           help="first booking day, YYYY-MM-DD")
            k.add_argument("--to", dest="to_date", type=date_argument, required=True,
                           help="last booking day, YYYY-MM-DD (included)")
        else:
            k.add_argument("--threshold", required=True, help="in major units, e.g. 1000.00")
            k.add_argument("--currency", default="EUR")
        if kind == "low-balance":
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-24")
        if kind != "income-spending-summary":
            k.add_argument("--as-of", type=date_argument,
                           help="reference date (default: the service's today)")
        if kind in ("high-balance", "low-balance", "rule", "rfm"):
            k.add_argument("--live", action="store_true",
                           help="keep the segment current as data arrives and days pass; "
                                "`finseg watch SEGMENT_ID` prints its events")
        k.add_argument("--account-type", action="append", type=account_type,
                       help=f"keep only this type (repeatable): {', '.join(ACCOUNT_TYPES)}")
        _outputs(k)
        k.add_argument("--page-size", type=int, default=1000)
    seg.set_defaults(func=cmd_segment)

    many = sub.add_parser("segments", help="list, print, cancel or delete segments")
    actions = many.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[conn], help="the tenant's segments, newest "
                                                              "first")
    listing.add_argument("--state", action="append", type=_choice(STATES, "job state"),
                         help=f"only this state (repeatable): {', '.join(STATES)}")
    listing.add_argument("--type", action="append", type=_choice(TYPES, "segment type"),
                         help="only this type (repeatable), e.g. low-balance")
    _outputs(listing)
    listing.set_defaults(func=cmd_list)
    get = actions.add_parser("get", parents=[conn],
                             help="wait for a segment and print its members")
    get.add_argument("segment_id")
    _outputs(get)
    get.add_argument("--page-size", type=int, default=1000)
    get.set_defaults(func=cmd_get)
    for name, func, text in (("cancel", cmd_cancel, "stop a PENDING or RUNNING segment"),
                             ("delete", cmd_delete, "delete a segment and its results")):
        action = actions.add_parser(name, parents=[conn], help=text)
        action.add_argument("segment_id")
        action.set_defaults(func=func)

    audit = sub.add_parser("audit", parents=[conn],
                           help="the tenant's audit log (scope audit:read)")
    audit.add_argument("--from", dest="since", type=moment,
                       help="first time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z (UTC unless "
                            "given)")
    audit.add_argument("--to", dest="until", type=moment, help="end time (excluded)")
    _outputs(audit)
    audit.set_defaults(func=cmd_audit)

    usage = sub.add_parser("usage", parents=[conn],
                           help="the tenant's usage per segment type (scope usage:read)")
    _outputs(usage)
    usage.set_defaults(func=cmd_usage)
