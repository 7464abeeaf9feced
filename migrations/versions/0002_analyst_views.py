"""Analysts' SQL views (sessions, daily per-account summary, failed sign-ins per IP); index on ts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The views are documented, with example questions, in docs/sql.md (tests/test_sql_docs.py
runs every query there). They are written here, frozen, rather than imported: a migration
must mean tomorrow what it meant today. A later change to a view is a new revision.

Days in the views are in the session's TimeZone (`SET TIME ZONE 'Asia/Taipei'`); the role
made by `manage.py create_analyst_role` defaults to MAILTRAIL_TZ.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One row per Dovecot session (per host: session ids are random, but only unique per server).
# The GROUP BY columns lead with account, so `WHERE account = …` is pushed into the scan and
# served by the primary key (account, ts, id).
SESSIONS = """
CREATE VIEW sessions AS
SELECT
    account,
    host,
    session,
    min(protocol) AS protocol,
    (array_agg(ip ORDER BY ts) FILTER (WHERE ip IS NOT NULL))[1] AS ip,
    min(ts) FILTER (WHERE kind = 'login') AS login_at,
    max(ts) FILTER (WHERE kind = 'logout') AS logout_at,
    max(ts) FILTER (WHERE kind = 'logout') - min(ts) FILTER (WHERE kind = 'login') AS duration,
    count(*) FILTER (WHERE kind = 'message_delete') AS messages_deleted,
    coalesce(sum(size) FILTER (WHERE kind = 'message_delete'), 0) AS bytes_deleted,
    count(*) FILTER (WHERE kind = 'mailbox_delete') AS mailboxes_deleted,
    max(deleted) FILTER (WHERE kind = 'logout') AS logout_deleted,
    max(expunged) FILTER (WHERE kind = 'logout') AS logout_expunged,
    max(messages) FILTER (WHERE kind = 'logout') AS messages_at_login,
    max(size) FILTER (WHERE kind = 'logout') AS mailbox_bytes_at_login,
    count(*) AS events
FROM event
WHERE session IS NOT NULL AND kind <> 'auth_fail'
GROUP BY account, host, session
"""

# One row per account and day (the day in the session's TimeZone).
DAILY = """
CREATE VIEW daily_account_summary AS
SELECT
    ts::date AS day,
    account,
    count(*) FILTER (WHERE kind = 'login') AS logins,
    count(*) FILTER (WHERE kind = 'login' AND protocol = 'pop3') AS pop3_logins,
    count(*) FILTER (WHERE kind = 'login' AND protocol = 'imap') AS imap_logins,
    count(*) FILTER (WHERE kind = 'auth_fail') AS failed_signins,
    count(DISTINCT ip) AS ips,
    count(*) FILTER (WHERE kind = 'message_delete') AS messages_deleted,
    coalesce(sum(deleted) FILTER (WHERE kind = 'logout' AND protocol = 'pop3'), 0) AS pop3_logout_deleted,
    count(*) FILTER (WHERE kind = 'mailbox_delete') AS mailboxes_deleted,
    min(ts) AS first_at,
    max(ts) AS last_at
FROM event
GROUP BY ts::date, account
"""

# One row per IP and day with failed sign-ins; `accounts` counts the distinct names tried,
# which tells password spraying (many accounts) from one forgotten password (one account).
FAILED = """
CREATE VIEW failed_signins_by_ip AS
SELECT
    ts::date AS day,
    ip,
    count(*) AS failures,
    coalesce(sum(attempts), 0) AS attempts,
    count(DISTINCT account) AS accounts,
    min(ts) AS first_at,
    max(ts) AS last_at
FROM event
WHERE kind = 'auth_fail' AND ip IS NOT NULL
GROUP BY ts::date, ip
"""

VIEWS = ("sessions", "daily_account_summary", "failed_signins_by_ip")


def upgrade() -> None:
    # A b-tree on ts: "the newest events" (the staff admin's list, of today or of any chosen
    # day, with or without a protocol or kind filter) becomes a backward walk of one page,
    # whatever the table holds. Events arrive in time order, so inserts land on the index's
    # right edge: cheap for COPY, pages kept full. About 20 bytes per event.
    # (A BRIN index, tried first, is far smaller but cannot give rows in order: a day's list
    # read and sorted the whole day, 2M rows an hour at 10,000 lines/s.)
    op.create_index("event_ts_idx", "event", ["ts"])
    for sql in (SESSIONS, DAILY, FAILED):
        op.execute(sql)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("event_ts_idx", table_name="event")
