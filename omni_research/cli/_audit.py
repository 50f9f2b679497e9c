"""``omni-research audit verify|show``: check the audit log's hash chain, list its records."""

from __future__ import annotations

import argparse

NAME = "audit"
HELP = "check the audit log's hash chain (verify) or list its records (show)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    verify = sub.add_parser(
        "verify", help="check the hash chain; name the first edited, deleted or moved record"
    )
    show = sub.add_parser("show", help="list the records, filtered by user, kind and time")
    for each in (verify, show):
        each.add_argument("--log", default=None, help="the log (default: OMNI_AUDIT_LOG)")
    verify.add_argument(
        "--head",
        default=None,
        help="a head hash printed by an earlier verify: it must still be in the log (detects "
        "records cut from its end)",
    )
    show.add_argument("--user", default=None, help="only this user's records")
    show.add_argument("--kind", default=None, help="only records of this data kind")
    show.add_argument("--start", default=None, help="from this time (inclusive, UTC ISO)")
    show.add_argument("--end", default=None, help="until this time (exclusive; a date: whole day)")


def run(args: argparse.Namespace) -> int:
    from omni_research._audit import show, verify_chain
    from omni_research.cli._common import wide_tables
    from omni_research.config import settings

    log = args.log if args.log is not None else settings().audit_log
    if args.action == "verify":
        report = verify_chain(log, head=args.head)
        print(report)
        return 0 if report.ok else 1
    records = show(log, user=args.user, kind=args.kind, start=args.start, end=args.end)
    shown = ("seq", "time", "event", "reason", "user", "tier", "dataset", "kind", "rows", "error")
    with wide_tables(fmt_str_lengths=60, tbl_cols=-1):
        print(records.select(shown))
    print(f"{records.height} record(s) of {log}")
    return 0
