"""`manage.py create_analyst_role`: the role may SELECT the event table and the views, and nothing else."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from tests.test_staff_support import ALICE, insert_event, recent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]

ROLE = "mailtrail_analyst_test"  # created inside the test's transaction, gone after it


def as_role(sql: str):
    """Run `sql` as the analyst role inside a savepoint; returns the rows or the error."""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SET LOCAL ROLE {ROLE}")
            cur.execute(sql)
            return cur.fetchall() if cur.description else None
    except DatabaseError as exc:
        return exc


def make_role(*args: str) -> str:
    out = io.StringIO()
    call_command("create_analyst_role", ROLE, *args, stdout=out)
    return out.getvalue()


def test_the_role_reads_the_events_and_every_view():
    insert_event(recent(), ALICE, ip="192.0.2.7", session="AbCd+/Ef12345678")
    assert "created (NOLOGIN)" in make_role()
    assert as_role("SELECT account FROM event") == [(ALICE,)]
    for view in ("sessions", "daily_account_summary", "failed_signins_by_ip"):
        assert not isinstance(as_role(f"SELECT * FROM {view}"), Exception), view
    assert as_role("SELECT account, host(ip) FROM sessions") == [(ALICE, "192.0.2.7")]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO event (ts, protocol, kind, account, source_id, line_offset) "
        "VALUES (now(), 'imap', 'login', 'mallory', 0, 0)",
        "DELETE FROM event",
        "UPDATE event SET account = 'mallory'",
        "TRUNCATE event",
        "SELECT * FROM auth_user",
        "SELECT * FROM webui_staff_lookup",
        "SELECT * FROM django_session",
        "SELECT * FROM source",
        "CREATE TABLE mine (x int)",
    ],
)
def test_the_role_can_change_nothing_and_read_nothing_else(sql):
    make_role()
    error = as_role(sql)
    assert isinstance(error, DatabaseError), sql
    assert "permission denied" in str(error)


def test_a_login_role_takes_its_password_from_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert "created (LOGIN)" in make_role("--login")
    with connection.cursor() as cur:
        cur.execute("SELECT rolcanlogin, rolconfig FROM pg_roles WHERE rolname = %s", [ROLE])
        can_login, config = cur.fetchone()
    assert can_login
    assert "default_transaction_read_only=on" in config
    assert "updated (NOLOGIN)" in make_role()  # running it again updates, never fails


def test_it_refuses_a_role_name_that_would_need_quoting():
    with pytest.raises(CommandError, match="role name"):
        call_command("create_analyst_role", 'x"; DROP TABLE event; --')
