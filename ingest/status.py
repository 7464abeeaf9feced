"""`ingest status`: each source against its file, the followers' heartbeats, files nobody has read."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from mailtrail.env import env_int

# The exit codes, for health checks (documented in --help and docs/follow.md).
HEALTHY = 0
BEHIND = 1  # a stalled source, a dead follower, or a followed file left unread
UNREACHABLE = 3  # the database did not answer (2 is a configuration error, as everywhere)

# A follower that has not touched its row for this long is dead, wherever it runs (it
# writes every follow.HEARTBEAT_SECONDS; a commit may wait up to the lock timeout).
DEAD_AFTER_SECONDS = 60


@dataclass(frozen=True)
class Reading:
    """What the database holds, read in one go."""

    sources: list
    checkpoints: dict  # source_id → (byte_offset, note)
    followers: list  # the newest row of each set of followed paths


def status_command(args: argparse.Namespace) -> int:
    """Print the report; the exit code says healthy (0), behind (1) or unreachable (3)."""
    stall_after = env_int("MAILTRAIL_STALL_SECONDS", 300, minimum=1)
    now = datetime.now(UTC)
    try:
        reading = read_database()
    except Unreachable as exc:
        reason = str(exc)
        print(f"ingest status: database unreachable: {reason}", file=sys.stderr)
        if args.prometheus:
            _emit(args, prometheus_down(now))
        elif args.json:
            _emit(args, json.dumps({"database": "unreachable", "reason": reason, "exit": UNREACHABLE}) + "\n")
        return UNREACHABLE
    report = build_report(reading, now, stall_after)
    if args.prometheus:
        _emit(args, prometheus_text(report, now))
    elif args.json:
        _emit(args, json.dumps(report, indent=2) + "\n")
    else:
        _emit(args, human_text(report))
    return report["exit"]


class Unreachable(Exception):
    """The database cannot be reached: status says so in one line."""


def read_database() -> Reading:
    from mailtrail.database import DatabaseUnavailable, running_database_url, sqlalchemy_url
    from sqlalchemy.dialects.postgresql import distinct_on

    from ingest.schema import checkpoint, follower, source

    try:
        url = running_database_url()
    except DatabaseUnavailable as exc:
        raise Unreachable(f"{exc}; status does not start it") from None
    engine = sa.create_engine(
        sqlalchemy_url(url),
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 5, "application_name": "mailtrail-status"},
    )
    try:
        with engine.connect() as conn:
            sources = conn.execute(sa.select(source).order_by(source.c.path, source.c.id)).mappings().all()
            checkpoints = {
                r.source_id: (r.byte_offset, r.note)
                for r in conn.execute(
                    sa.select(checkpoint.c.source_id, checkpoint.c.byte_offset, checkpoint.c.note)
                )
            }
            followers = (
                conn.execute(
                    sa.select(follower, sa.func.now().label("db_now"))
                    .ext(distinct_on(follower.c.paths))
                    .order_by(follower.c.paths, follower.c.started_at.desc(), follower.c.id.desc())
                )
                .mappings()
                .all()
            )
    except sa.exc.DBAPIError as exc:
        orig = exc.orig or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        raise Unreachable(f"{type(orig).__name__}: {first}"[:300]) from None
    finally:
        engine.dispose()
    return Reading(list(sources), checkpoints, list(followers))


def build_report(reading: Reading, now: datetime, stall_after: int) -> dict:
    """Sources against their files, followers against their heartbeats, and unread files."""
    from ingest.identity import first_line_fingerprint
    from ingest.source import fingerprint
    from ingest.watch import belongs_to, discover, parse_patterns

    followers = [follower_report(row) for row in reading.followers]
    # Every file the followers' paths name, by fingerprint: a rotated source is found at its
    # new name, and a file with no source row is one nobody has read.
    on_disk: dict[str, str] = {}
    unread = []
    known = {row["fingerprint"] for row in reading.sources}
    for f in followers:
        patterns = parse_patterns(f["paths"])
        for c in discover(patterns):
            fp = fingerprint(c.path)
            if fp is None:
                continue
            on_disk.setdefault(fp, c.path)
            if fp in known:
                continue
            created = [r["created_at"] for r in reading.sources if belongs_to(c.pattern, r["path"])]
            try:
                st = os.stat(c.path)
            except OSError:
                continue
            # mirrors the follower's rule: the live file, and any file written since the name
            # was first followed, is read; older rotated copies are left to backfill
            if not (c.live and c.matched) and (not created or st.st_mtime < min(created).timestamp() - 1):
                continue
            idle = now.timestamp() - st.st_mtime
            unread.append(
                {
                    "path": c.path,
                    "size": st.st_size,
                    "bytes_behind": st.st_size,
                    "fingerprint": fp,
                    "follower": f["id"],
                    # nobody reads it: its follower is not running, or has let it sit
                    "behind": not f["running"] or idle > stall_after,
                }
            )
    # a source replaced by a newer one with the same first line (identity.py) no longer has a
    # file: what its first line finds now is its successor's
    newest: dict[str, int] = {}
    for row in reading.sources:
        base = first_line_fingerprint(row["fingerprint"])
        newest[base] = max(newest.get(base, 0), row["id"])
    sources = [
        source_report(
            row,
            now,
            stall_after,
            on_disk,
            reading.checkpoints,
            replaced=newest[first_line_fingerprint(row["fingerprint"])] != row["id"],
        )
        for row in reading.sources
    ]
    for r in sources:
        owner = next(
            (f for f in followers if any(belongs_to(p, r["path"]) for p in parse_patterns(f["paths"]))), None
        )
        r["follower"] = owner["id"] if owner else None
        # a followed file with unread bytes whose follower is not running is behind at once
        r["behind"] = r["stalled"] or (r["bytes_behind"] > 0 and owner is not None and not owner["running"])
    problems = (
        [
            f"follower pid {f['pid']} on {f['hostname']}: {f['state']}"
            for f in followers
            if f["state"] == "dead"
        ]
        + [f"{r['path']}: {r['bytes_behind']:,} bytes unread" for r in sources if r["behind"]]
        + [f"{u['path']}: never read ({u['size']:,} bytes)" for u in unread if u["behind"]]
    )
    return {
        "sources": sources,
        "unread": unread,
        "followers": followers,
        "stalled": any(r["stalled"] for r in sources),
        "stall_seconds": stall_after,
        "problems": problems,
        "exit": BEHIND if problems else HEALTHY,
    }


def follower_report(row) -> dict:
    """One follower run: running, dead (no heartbeat, or its process is gone) or stopped."""
    silent = (row["db_now"] - row["beat_at"]).total_seconds()
    if row["stopped_at"] is not None:
        state = "stopped"
    elif silent > DEAD_AFTER_SECONDS or not _alive_here(row["hostname"], row["pid"]):
        state = "dead"
    else:
        state = "running"
    return {
        "id": row["id"],
        "hostname": row["hostname"],
        "pid": row["pid"],
        "paths": list(row["paths"]),
        "started_at": row["started_at"].isoformat(),
        "beat_at": row["beat_at"].isoformat(),
        "silent_seconds": round(silent, 1),
        "stopped_at": row["stopped_at"].isoformat() if row["stopped_at"] else None,
        "waiting": row["waiting"] if state == "running" else None,
        "state": state,
        "running": state == "running",
    }


def _alive_here(hostname: str, pid: int) -> bool:
    """False only when the follower ran on this host and its process is gone (SIGKILL, crash)."""
    if hostname != socket.gethostname():
        return True  # another host: only its heartbeat can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def source_report(
    row, now: datetime, stall_after: int, on_disk: dict, checkpoints: dict, replaced: bool = False
) -> dict:
    """One source row against its file: at its recorded path, or wherever its fingerprint is now."""
    from ingest.identity import first_line_fingerprint
    from ingest.source import fingerprint, is_gzip
    from ingest.watch import gzip_isize

    path = row["path"]
    base = first_line_fingerprint(row["fingerprint"])
    found = None
    size = None
    try:
        if replaced:
            pass  # its file is gone: what has its first line now is the source that replaced it
        elif fingerprint(path) == base:
            found = path
        elif on_disk.get(base):
            found = on_disk[base]  # rotated away while no follower ran
        if found is not None:
            # a .gz is measured by its content (what the offset counts), from its trailer
            size = gzip_isize(found) if is_gzip(found) else os.path.getsize(found)
    except OSError:
        found = None
    behind = max(size - row["byte_offset"], 0) if size is not None else 0
    idle = (now - row["updated_at"]).total_seconds()
    # stalled: there is something to read and nothing was committed for stall_after seconds
    is_stalled = behind > 0 and idle > stall_after
    last = row["last_event_ts"]
    _, note = checkpoints.get(row["id"], (None, None))
    return {
        "id": row["id"],
        "path": path,
        "found_at": found,
        "host": row["host"],
        "fingerprint": row["fingerprint"],
        "offset": row["byte_offset"],
        "size": size if found else row["size"],
        "current": found == path,
        "bytes_behind": behind,
        "lines": row["lines"],
        "events": row["events"],
        "skipped": row["skipped"],
        "bad_lines": row["bad_lines"],
        "last_event_ts": last.isoformat() if last else None,
        "lag_seconds": round((now - last).total_seconds(), 1) if last else None,
        "updated_at": row["updated_at"].isoformat(),
        "idle_seconds": round(idle, 1),
        "stalled": is_stalled,
        "replaced": replaced,
        "note": note,
    }


def human_text(report: dict) -> str:
    out = []
    for f in report["followers"]:
        since = (
            f"stopped {f['stopped_at']}"
            if f["stopped_at"]
            else f"last heartbeat {f['silent_seconds']:,.0f}s ago"
        )
        waiting = f"; waiting for {f['waiting']}" if f["waiting"] else ""
        out.append(
            f"follower pid {f['pid']} on {f['hostname']}: {f['state'].upper() if f['state'] == 'dead' else f['state']} "
            f"({since}{waiting})  following {', '.join(f['paths'])}"
        )
    if not report["sources"] and not report["unread"]:
        out.append("no sources yet: run `python -m ingest backfill FILE` or `follow`")
    for r in report["sources"]:
        if r["stalled"]:
            state = "STALLED"
        elif r["behind"]:
            state = "BEHIND"
        elif r["current"] or r["found_at"]:
            state = "current"
        elif r["replaced"]:
            state = "replaced"
        else:
            state = "rotated/gone"
        if r["found_at"] and not r["current"]:
            state += f", now at {r['found_at']}"
        size = f"{r['size']:,}" if r["size"] is not None else "?"
        lag = f"{r['lag_seconds']:,.0f}s ago" if r["lag_seconds"] is not None else "-"
        note = f"  NOTE: {r['note']}" if r["note"] else ""
        out.append(
            f"{r['path']}  [{state}]  host={r['host'] or '-'}  offset {r['offset']:,}/{size} "
            f"({r['bytes_behind']:,} behind)  lines={r['lines']:,} events={r['events']:,} "
            f"skipped={r['skipped']:,} bad={r['bad_lines']:,}  last event {r['last_event_ts'] or '-'} "
            f"({lag})  fingerprint {r['fingerprint']}{note}"
        )
    for u in report["unread"]:
        state = "UNREAD" if u["behind"] else "new"
        out.append(
            f"{u['path']}  [{state}]  no source row: {u['size']:,} bytes not read yet  fingerprint {u['fingerprint']}"
        )
    for p in report["problems"]:
        out.append(f"behind: {p}")
    return "\n".join(out) + "\n"


def _emit(args: argparse.Namespace, text: str) -> None:
    """To stdout, or to --output FILE atomically (a temporary file renamed over it), so that a
    textfile collector never reads half a report nor keeps an old one after a failure."""
    target = getattr(args, "output", None)
    if not target:
        sys.stdout.write(text)
        return
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_METRICS = (
    # (name, type, help, report key)
    (
        "mailtrail_source_offset_bytes",
        "gauge",
        "Committed byte offset (of the decompressed content).",
        "offset",
    ),
    (
        "mailtrail_source_size_bytes",
        "gauge",
        "Size of the source's file, where it is now (by fingerprint).",
        "size",
    ),
    ("mailtrail_source_behind_bytes", "gauge", "Bytes in the file not yet committed.", "bytes_behind"),
    ("mailtrail_source_lines_total", "counter", "Lines read and committed.", "lines"),
    ("mailtrail_source_events_total", "counter", "Events stored.", "events"),
    ("mailtrail_source_skipped_total", "counter", "Lines of no interest (not Dovecot events).", "skipped"),
    ("mailtrail_source_bad_lines_total", "counter", "Lines kept in bad_line for review.", "bad_lines"),
    ("mailtrail_source_lag_seconds", "gauge", "Seconds since the newest stored event's time.", "lag_seconds"),
    ("mailtrail_source_idle_seconds", "gauge", "Seconds since the source's last commit.", "idle_seconds"),
    (
        "mailtrail_source_stalled",
        "gauge",
        "1 when the file has unread bytes and nothing was committed lately.",
        "stalled",
    ),
)


def prometheus_text(report: dict, now: datetime) -> str:
    """The report in Prometheus' text exposition format (for node_exporter's textfile collector)."""
    out = [
        "# HELP mailtrail_up 1 when status could read the database.",
        "# TYPE mailtrail_up gauge",
        "mailtrail_up 1",
    ]
    sources = report["sources"]
    for name, kind, help_text, key in _METRICS:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for r in sources:
            value = r[key]
            if value is None:
                continue
            labels = ",".join(
                f'{k}="{_label(str(r[k]))}"' for k in ("path", "host", "fingerprint") if r[k] is not None
            )
            out.append(
                f"{name}{{{labels}}} {float(value):g}"
                if isinstance(value, float)
                else f"{name}{{{labels}}} {int(value)}"
            )
    out.append(
        "# HELP mailtrail_follower_up 1 while a follower's heartbeat is fresh, 0 when dead or stopped."
    )
    out.append("# TYPE mailtrail_follower_up gauge")
    for f in report["followers"]:
        labels = f'hostname="{_label(f["hostname"])}",paths="{_label(",".join(f["paths"]))}"'
        out.append(f"mailtrail_follower_up{{{labels}}} {int(f['running'])}")
    out.append("# HELP mailtrail_unread_files Followed files with content and no source row (never read).")
    out.append("# TYPE mailtrail_unread_files gauge")
    out.append(f"mailtrail_unread_files {sum(1 for u in report['unread'] if u['behind'])}")
    out.append("# HELP mailtrail_sources_stalled Sources that are stalled.")
    out.append("# TYPE mailtrail_sources_stalled gauge")
    out.append(f"mailtrail_sources_stalled {sum(1 for r in sources if r['stalled'])}")
    out.append("# HELP mailtrail_behind 1 when status exits 1: stalled, unread or a dead follower.")
    out.append("# TYPE mailtrail_behind gauge")
    out.append(f"mailtrail_behind {int(report['exit'] == BEHIND)}")
    out.extend(_timestamp(now))
    return "\n".join(out) + "\n"


def prometheus_down(now: datetime) -> str:
    """What the textfile collector gets while the database is unreachable."""
    lines = [
        "# HELP mailtrail_up 1 when status could read the database.",
        "# TYPE mailtrail_up gauge",
        "mailtrail_up 0",
    ]
    return "\n".join([*lines, *_timestamp(now)]) + "\n"


def _timestamp(now: datetime) -> list[str]:
    return [
        "# HELP mailtrail_status_timestamp_seconds When this report was made.",
        "# TYPE mailtrail_status_timestamp_seconds gauge",
        f"mailtrail_status_timestamp_seconds {now.timestamp():.3f}",
    ]


def _label(value: str) -> str:
    # a path may hold any byte but NUL: escape what the exposition format requires
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
