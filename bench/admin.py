"""Staff admin benchmark: the event changelist's time for an account, an IP and a Message-ID search.

Usage: .venv/bin/python bench/admin.py [--events 100000000] [--months 4] [--runs 15]
                                       [--pgdata DIR] [--database-url URL]

Builds an embedded PostgreSQL in a temporary directory (or uses --database-url, or keeps and
reuses --pgdata DIR), migrates it with alembic and Django, and loads --events synthetic
events spread evenly in time over the last --months months, up to now. Loading is the
standard bulk path: each month's rows are generated inside PostgreSQL (generate_series) into
a plain table with no indexes, the table is then indexed exactly like the event partitions
and attached as one (ATTACH PARTITION adopts the indexes), then VACUUM ANALYZE. The result
is the same table, indexes and statistics the ingester's COPY would leave, reached sooner.

Then, in this process, Django's test client signed in as a superuser requests the admin
changelist: a search for one account, one IP, one Message-ID, and the default list
("today": no search). Each is run once cold and --runs times warm; p50/p95 are of the warm runs and
include the whole request: the capped count, the page query, rendering, the audit rows.
Goal: <= 200 ms per page for each search. The last line is machine-readable:
`events=… load_s=… account_p50_ms=… account_p95_ms=… ip_p50_ms=… … today_p95_ms=…`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402

from bench.common import say  # noqa: E402
from ingest.partitions import month_start, next_month, partition_name  # noqa: E402
from mailtrail.database import embedded_url, sqlalchemy_url  # noqa: E402

GOAL_MS = 200
ACCOUNTS = 50_000  # a university's mailboxes
IPS = 200_000  # distinct client addresses


def migrate_alembic(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url))
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")


# One month's rows, generated where they are stored. Time advances with the id, as a live
# log's does (inserts on the ts index's right edge); account and IP are uniform random.
GENERATE = """
INSERT INTO {table} (id, ts, host, protocol, kind, account, ip, session, pid, deleted, messages,
                     size, mailbox, message_id, uid, attempts, reason, source_id, line_offset)
SELECT g, to_timestamp(%(t0)s + (g - %(first)s) * %(step)s),
       'mx' || (g %% 3 + 1),
       CASE WHEN g %% 2 = 0 THEN 'imap' ELSE 'pop3' END,
       kind,
       'user' || a || '@example.edu',
       '10.0.0.0'::inet + ip,
       to_hex(g * 2654435761 %% 4294967296) || to_hex(g),
       (g %% 60000)::int,
       CASE WHEN kind = 'logout' THEN (r * 100)::int %% 5 END,
       CASE WHEN kind = 'logout' THEN 20 + (r * 1000)::int END,
       CASE WHEN kind IN ('logout', 'message_delete') THEN (r * 10000000)::bigint END,
       CASE WHEN kind IN ('message_delete', 'flag_delete', 'mailbox_delete') THEN 'INBOX' END,
       CASE WHEN kind = 'message_delete' THEN '<' || g || '.bench@example.org>' END,
       CASE WHEN kind IN ('message_delete', 'flag_delete') THEN g %% 100000 END,
       CASE WHEN kind = 'auth_fail' THEN 1 END,
       CASE WHEN kind = 'auth_fail' THEN 'auth failed' WHEN kind = 'logout' THEN 'Logged out' END,
       1, g * 150
FROM (
    SELECT g, r, (random() * {accounts})::int AS a, (random() * {ips})::int AS ip,
           CASE WHEN r < 0.30 THEN 'login' WHEN r < 0.60 THEN 'logout' WHEN r < 0.70 THEN 'auth_fail'
                WHEN r < 0.97 THEN 'message_delete' WHEN r < 0.99 THEN 'flag_delete'
                ELSE 'mailbox_delete' END AS kind
    FROM (SELECT g, random() AS r FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS s0
) AS s
"""


def month_slices(n: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int, int]]:
    """(slice start, slice end, first id, last id) per UTC month, ids proportional to time."""
    span = (end - start).total_seconds()
    out, first = [], 1
    month = month_start(start)
    while True:
        a = max(start, datetime(month.year, month.month, 1, tzinfo=UTC))
        nxt = next_month(month)
        b = min(end, datetime(nxt.year, nxt.month, 1, tzinfo=UTC))
        if a >= end:
            break
        last = round(n * (b - start).total_seconds() / span)
        if last >= first:
            out.append((a, b, first, last))
        first = last + 1
        month = nxt
    return out


def load(url: str, n: int, months: int) -> None:
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = end - timedelta(days=30 * months)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        for a, b, first, last in month_slices(n, start, end):
            lo = a.date().replace(day=1)
            name = partition_name(lo)
            hi = next_month(lo)
            t = time.perf_counter()
            conn.execute(f"DROP TABLE IF EXISTS {name}")  # the empty one the migration made
            conn.execute(f"CREATE TABLE {name} (LIKE event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            step = (b - a).total_seconds() / max(1, last - first + 1)
            sql = GENERATE.format(table=name, accounts=ACCOUNTS, ips=IPS)
            conn.execute(sql, {"t0": a.timestamp(), "first": first, "last": last, "step": step})
            loaded = time.perf_counter() - t
            # the same indexes as the partitioned parent's, so that ATTACH adopts them
            conn.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY (account, ts, id)")
            conn.execute(f"CREATE INDEX ON {name} (ip, ts) WHERE ip IS NOT NULL")
            conn.execute(f"CREATE INDEX ON {name} USING hash (message_id) WHERE message_id IS NOT NULL")
            conn.execute(f"CREATE INDEX ON {name} (ts)")
            conn.execute(f"CREATE INDEX ON {name} (account, ts) WHERE right(message_id, 3) = '...'")
            bounds = f"FROM ('{lo.isoformat()} 00:00+00') TO ('{hi.isoformat()} 00:00+00')"
            check = f"ts >= '{lo.isoformat()} 00:00+00' AND ts < '{hi.isoformat()} 00:00+00'"
            conn.execute(
                f"ALTER TABLE {name} ADD CONSTRAINT bench_bounds CHECK ({check})"
            )  # ATTACH skips its scan
            conn.execute(f"ALTER TABLE event ATTACH PARTITION {name} FOR VALUES {bounds}")
            conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT bench_bounds")
            conn.execute(f"VACUUM (ANALYZE) {name}")
            say(
                f"  {name}: {last - first + 1:,} rows, generated {loaded:.0f} s, total {time.perf_counter() - t:.0f} s"
            )
        conn.execute("SELECT setval('event_id_seq', %s)", [n])
        conn.execute(
            "INSERT INTO source (fingerprint, path, host) VALUES ('bench', '/var/log/mail.log', 'mx1')"
        )
        conn.execute("CREATE TABLE bench_meta (events bigint)")
        conn.execute("INSERT INTO bench_meta VALUES (%s)", [n])


def loaded_events(url: str) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('bench_meta') IS NOT NULL").fetchone()
        if not row[0]:
            return None
        return conn.execute("SELECT events FROM bench_meta").fetchone()[0]


def samples(url: str) -> dict[str, str]:
    """An account, an IP and a Message-ID that exist, read from the last partition's rows."""
    with psycopg.connect(url) as conn:
        account = conn.execute(
            "SELECT account FROM event WHERE ts > now() - interval '2 hours' LIMIT 1"
        ).fetchone()[0]
        ip = conn.execute("SELECT host(ip) FROM event WHERE account = %s LIMIT 1", [account]).fetchone()[0]
        msgid = conn.execute(
            "SELECT message_id FROM event WHERE ts > now() - interval '2 hours' AND message_id IS NOT NULL LIMIT 1"
        ).fetchone()[0]
        sizes = conn.execute(
            "SELECT pg_total_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'event'::regclass"
        ).fetchall()
    say(f"database: event partitions {sum(s for (s,) in sizes) / 2**30:.1f} GiB with indexes")
    return {"account": account, "ip": ip, "msgid": msgid}


def time_admin(url: str, terms: dict[str, str], runs: int) -> dict[str, float]:
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="webui.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    results: dict[str, float] = {}
    cases = [(name, {"q": term}) for name, term in terms.items()] + [("today", {})]
    for name, params in cases:
        times = []
        for i in range(runs + 1):
            t = time.perf_counter()
            response = client.get("/admin/records/event/", params, secure=True)
            ms = (time.perf_counter() - t) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code}")
            rows = response.content.count(b'<td class="field-host">')
            if i == 0:
                say(f"  {name} {params or ''}: {rows} rows on the page, cold {ms:.1f} ms")
                results[f"{name}_cold_ms"] = ms
            else:
                times.append(ms)
        times.sort()
        results[f"{name}_p50_ms"] = statistics.median(times)
        results[f"{name}_p95_ms"] = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        say(f"  {name}: p50 {results[f'{name}_p50_ms']:.1f} ms, p95 {results[f'{name}_p95_ms']:.1f} ms")
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000_000, help="events to load (default: 100000000)")
    ap.add_argument("--months", type=int, default=4, help="months the events span, ending now (default: 4)")
    ap.add_argument("--runs", type=int, default=15, help="warm runs per search (default: 15)")
    ap.add_argument("--pgdata", type=Path, help="keep the embedded server here, and reuse what it holds")
    ap.add_argument("--database-url", help="an existing server's database to fill (it is emptied)")
    args = ap.parse_args()

    say("load average {:.2f} {:.2f} {:.2f} (2 cores, shared)".format(*os.getloadavg()))
    tmp = None
    if args.database_url:
        url = args.database_url
    else:
        pgdata = args.pgdata
        if pgdata is None:
            tmp = Path(tempfile.mkdtemp(prefix="mailtrail-bench-admin-"))
            tmp.chmod(0o755)  # as root, pgserver runs the server as its own user
            pgdata = tmp / "pgdata"
        url = embedded_url(pgdata.resolve(), "mailtrail_bench")
    try:
        load_s = 0.0
        have = loaded_events(url)
        if have != args.events:
            if have is not None:
                raise SystemExit(
                    f"{url} holds {have:,} bench events, not {args.events:,}: use another --pgdata"
                )
            say(f"loading {args.events:,} events over {args.months} months")
            migrate_alembic(url)
            t = time.perf_counter()
            load(url, args.events, args.months)
            load_s = time.perf_counter() - t
            say(f"loaded in {load_s:.0f} s")
        terms = samples(url)
        say(f"searches: {terms}")
        results = time_admin(url, terms, args.runs)
        worst = max(results[f"{k}_p95_ms"] for k in ("account", "ip", "msgid"))
        say(f"goal: every search p95 <= {GOAL_MS} ms: {'met' if worst <= GOAL_MS else 'NOT met'}")
        fields = {
            "events": args.events,
            "load_s": round(load_s),
            **{k: round(v, 1) for k, v in results.items()},
        }
        print(" ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
