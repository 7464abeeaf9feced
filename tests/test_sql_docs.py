"""Every query in docs/sql.md runs, as the analysts' read-only role, on a real Dovecot log, and answers right."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from psycopg.conninfo import make_conninfo

from tests.conftest import PROJECT_DIR
from webui.staff.analysts import create_analyst_role

DOC = PROJECT_DIR / "docs" / "sql.md"
LOG = PROJECT_DIR / "tests" / "data" / "dovecot-real" / "dovecot-2.3.19-e2e-scenario.log"
ROLE = "mailtrail_analyst_docs_test"
ALICE, BOB = "alice@example.edu", "bob@example.edu"


def examples() -> dict[str, str]:
    """{question: sql} for each `### question` followed by a ```sql block."""
    text = DOC.read_text()
    found = re.findall(r"^### (.+?)\n.*?```sql\n(.*?)```", text, flags=re.S | re.M)
    return {title.strip(): sql.strip() for title, sql in found}


# The answers, for the log's day moved to yesterday (UTC). Rows are compared as sets where
# the query's order has ties (two logins in the same second).
EXPECTED = {
    "Which sessions deleted messages from alice's mailbox, and from which IP?": lambda rows: (
        {r[1:] for r in rows} == {("pop3", "127.0.0.2", 2, 377, 0), ("imap", "127.0.0.3", 3, 521, 1)}
    ),
    "Which messages left alice's mailbox, when, and from which computer?": lambda rows: (
        sorted((r[2], r[3], r[5]) for r in rows)
        == sorted(
            [("127.0.0.2", "INBOX", 220), ("127.0.0.2", "INBOX", 157)]
            + [("127.0.0.3", "INBOX", 141), ("127.0.0.3", "INBOX", 239), ("127.0.0.3", "Old", 141)]
        )
    ),
    "How long did each of bob's sessions last?": lambda rows: (
        [(r[0], r[1], r[4]) for r in rows]
        == [("imap", "127.0.0.5", timedelta(0)), ("pop3", "127.0.0.6", timedelta(seconds=1))]
    ),
    "Which clients did alice use, from which IP?": lambda rows: (
        {r[:5] for r in rows}
        == {("pop3", "127.0.0.2", None, None, None), ("imap", "127.0.0.3", None, None, None)}
    ),  # the scenario's clients send no ID (the e2e test of client identity has its own log)
    "Alice's day by day, over the last week": lambda rows: [r[1:] for r in rows] == [(2, 2, 3, 5, 1)],
    "Which accounts lost the most messages yesterday?": lambda rows: rows == [(ALICE, 5, 1), (BOB, 1, 0)],
    "Which IPs failed to sign in most over the last week, and how many accounts did each try?": lambda rows: (
        [r[:3] for r in rows] == [("127.0.0.4", Decimal(2), 1), ("127.0.0.9", Decimal(1), 1)]
    ),
    "Which accounts did one IP try to sign in to?": lambda rows: [r[:2] for r in rows] == [(ALICE, 2)],
    "Which accounts signed in from outside the campus network yesterday?": lambda rows: (
        {(ALICE, "127.0.0.2"), (ALICE, "127.0.0.3"), (BOB, "127.0.0.5"), (BOB, "127.0.0.6")} <= set(rows)
    ),
    "How many logins per protocol per day, over the last 30 days (fast on a big table)?": lambda rows: (
        [r[1:] for r in rows] == [("imap", 3, 3), ("pop3", 2, 2)]
    ),
}


@pytest.fixture(scope="module")
def yesterdays_log(engine, tmp_path_factory):
    """The real log, its day moved to yesterday (UTC), loaded by the real backfill."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    text = LOG.read_text().replace("Nov 27 ", yesterday.strftime("%b %d "))
    path = tmp_path_factory.mktemp("sqldocs") / "mail.log"
    path.write_text(text)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "backfill", "--progress", "never", "--tz", "UTC", "--host", "mx1"]
        + ["--year", str(yesterday.year), str(path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    yield
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))


def run_as_analyst(sql: str) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL ROLE {ROLE}")
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]


def test_the_page_has_examples_and_each_expected_answer_names_one():
    found = examples()
    assert len(found) >= 8
    assert set(EXPECTED) <= set(found), set(EXPECTED) - set(found)


@pytest.mark.django_db
@pytest.mark.parametrize("question", list(examples()))
def test_each_documented_query_runs_as_the_analyst_and_answers_right(question, yesterdays_log):
    create_analyst_role(ROLE)  # inside the test's transaction: gone afterwards
    rows = run_as_analyst(examples()[question])
    check = EXPECTED.get(question)
    if check is not None:
        assert check(rows), rows
    else:
        assert rows is not None


# --- the limits hold for a member, signed in as themselves -----------------------------

GROUP, MEMBER = "mailtrail_analyst_group_test", "bob_analyst_test"
MEMBER_ZONE = "Asia/Taipei"  # not the test site's zone, so that the member's zone is seen to apply


@pytest.fixture
def bob_signed_in(database_url, engine, django_db_blocker, settings):
    """Bob's own login role, made a member by create_analyst_role, signed in on a new connection.

    Committed (a role made inside a test's transaction is invisible to another connection),
    and dropped afterwards with everything granted to it.
    """
    settings.TIME_ZONE = MEMBER_ZONE
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {MEMBER} LOGIN PASSWORD 'pw-bob'")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    late = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=20)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO event (ts, host, protocol, kind, account, source_id, line_offset) "
                "VALUES (:ts, 'mx1', 'imap', 'login', 'zoe@example.edu', 0, 0)"
            ),
            {"ts": late},  # 20:00 UTC is 04:00 the next day in Taipei
        )
    try:
        with django_db_blocker.unblock():
            call_command("create_analyst_role", GROUP, "--member", MEMBER, stdout=io.StringIO())
        with psycopg.connect(make_conninfo(database_url, user=MEMBER, password="pw-bob")) as bob:
            yield bob, yesterday
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("DELETE FROM event WHERE account = 'zoe@example.edu'")
            for role in (MEMBER, GROUP):
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                    admin.execute(f"DROP OWNED BY {role}")  # its grants; DROP ROLE drops its settings
                    admin.execute(f"DROP ROLE {role}")


def test_a_member_signed_in_as_themselves_gets_every_limit_the_page_promises(bob_signed_in):
    bob, yesterday = bob_signed_in
    assert bob.execute("SELECT current_user").fetchone() == (MEMBER,)
    assert bob.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    assert bob.execute("SHOW statement_timeout").fetchone() == ("5min",)
    assert bob.execute("SHOW TimeZone").fetchone() == (MEMBER_ZONE,)
    # the zone shows in the views' day columns: 20:00 UTC yesterday is a Taipei "today"
    day = bob.execute("SELECT day FROM daily_account_summary WHERE account = 'zoe@example.edu'").fetchone()
    assert day == (yesterday + timedelta(days=1),)
    bob.rollback()
    # read-only: even a temporary table, which any role may make, is refused
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        bob.execute("CREATE TEMP TABLE scratch (x int)")
    bob.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bob.execute("SELECT * FROM auth_user")


@pytest.mark.django_db
def test_it_refuses_a_member_that_does_not_exist_or_is_a_superuser():
    with pytest.raises(CommandError, match="not a role"):
        call_command("create_analyst_role", GROUP, "--member", "nobody_here_test", stdout=io.StringIO())
    with connection.cursor() as cur:
        cur.execute("SELECT current_user")
        (me,) = cur.fetchone()
    with pytest.raises(CommandError, match="superuser or the role"):
        call_command("create_analyst_role", GROUP, "--member", me, stdout=io.StringIO())
