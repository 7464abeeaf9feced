"""The thin command line: parses arguments and wires source → parse → correlate → sink."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mailtrail.env import ConfigError


class _Version(argparse.Action):
    """--version: the package's version and the fast paths in use (ingest.speedups), read
    only when asked (a bad MAILTRAIL_PURE_PYTHON is a configuration error, as elsewhere)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        from importlib.metadata import PackageNotFoundError, version

        try:
            from ingest import speedups  # loads every fast path as it is imported
        except ConfigError as exc:
            parser.exit(2, f"ingest: configuration error: {exc}\n")
        try:
            number = version("mailtrail")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "(not installed)"
        print(f"mailtrail {number}; {speedups.summary()}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Read Dovecot logs into mailtrail's PostgreSQL event tables.",
    )
    ap.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="print the version and which compiled fast paths are in use, and exit",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "parse",
        help="print the events in log files as JSON lines (no database)",
        description="Print one JSON object per event. Exit 0 even when lines are "
        "unrecognised; each malformed line and the counts of events (repaired ones among "
        "them), skipped and malformed lines go to stderr, counted as backfill counts them.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="log file, plain or .gz; - for standard input")
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="zone of timestamps without an offset (default: $MAILTRAIL_TZ, else the machine's zone)",
    )
    p.add_argument(
        "--year",
        type=int,
        metavar="YYYY",
        help="year of the first line of timestamps without a year (default: inferred)",
    )
    p.add_argument("--host", default="", help="host name for lines that carry none (Dovecot's own log file)")

    b = sub.add_parser(
        "backfill",
        help="load whole log files (plain or .gz) into the database",
        description="Load log files into the database. Idempotent: a file, or a "
        "rotated copy of it, that was loaded before resumes where it stopped. No line stops "
        "it: a line that cannot be an event (a value over its limit, a time outside the "
        "retention window or more than a day ahead, one the database refuses) is kept in "
        "bad_line with its reason; a database outage is waited out for up to 120 s.",
    )
    b.add_argument("files", nargs="+", metavar="FILE", help="log file, plain or .gz")
    b.add_argument("--tz", metavar="ZONE", help="as for parse")
    b.add_argument("--year", type=int, metavar="YYYY", help="as for parse")
    b.add_argument("--host", default="", help="as for parse")
    b.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar: auto shows it on a terminal (default: auto)",
    )

    f = sub.add_parser("follow", help="follow live log files into the database (the daemon)")
    f.add_argument(
        "paths",
        nargs="*",
        metavar="PATH|GLOB",
        help="files or globs to follow (default: $MAILTRAIL_FOLLOW)",
    )
    f.add_argument(
        "--read-from",
        choices=("beginning", "end"),
        default="beginning",
        help="where to start in a file never seen before (default: beginning)",
    )
    f.add_argument("--tz", metavar="ZONE", help="as for parse")
    f.add_argument("--host", default="", help="as for parse")
    f.add_argument("--poll", action="store_true", help="poll instead of inotify (NFS and the like)")

    s = sub.add_parser(
        "status",
        help="each source, the followers' heartbeats, unread files; non-zero when behind",
        description="Each source's offset against its file (found by fingerprint wherever "
        "rotation put it), each follower's heartbeat, and every followed file that has no "
        "source row. Never starts or stops a database, the embedded one included.",
        epilog="exit codes:\n"
        "  0  healthy\n"
        "  1  behind: a source stalled (unread bytes, no commit for $MAILTRAIL_STALL_SECONDS),\n"
        "     a follower dead (no heartbeat, or its process gone), or a followed file unread\n"
        "     while its follower is not running\n"
        "  2  configuration error\n"
        "  3  database unreachable (one line on stderr; --prometheus writes mailtrail_up 0)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument(
        "--prometheus", action="store_true", help="Prometheus text format (for a textfile collector)"
    )
    s.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE atomically (temporary file + rename) instead of stdout, "
        "e.g. node_exporter's textfile directory",
    )

    r = sub.add_parser(
        "retention",
        help="create the coming months' partitions and drop expired ones",
        description="Create event partitions ahead of need and drop those wholly older "
        "than the retention period ($MAILTRAIL_RETENTION_DAYS).",
    )
    r.add_argument("--dry-run", action="store_true", help="say what would be dropped, drop nothing")

    g = sub.add_parser("generate", help="write a realistic Dovecot 2.3 syslog with postfix noise")
    g.add_argument("--lines", type=int, default=10_000, help="number of lines (default: 10000)")
    g.add_argument("--days", type=int, default=1, help="days the log spans, ending now (default: 1)")
    g.add_argument("--accounts", type=int, default=200, help="number of mailbox accounts (default: 200)")
    g.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    g.add_argument("--output", "-o", default="-", help="file to write, .gz compresses (default: stdout)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "parse":
            from ingest.commands import parse_command

            return parse_command(args)
        if args.command == "backfill":
            from ingest.commands import backfill_command

            return backfill_command(args)
        if args.command == "follow":
            from ingest.follow import follow_command

            return follow_command(args)
        if args.command == "status":
            from ingest.status import status_command

            return status_command(args)
        if args.command == "retention":
            from ingest.retention import retention_command

            return retention_command(args)
        if args.command == "generate":
            from ingest.generate import generate_command

            return generate_command(args)
    except ConfigError as exc:
        print(f"ingest: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2
