r"""A small index of the events whose Message-ID Dovecot cut short, for the Message-ID search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

mail_log cuts a header value at 80 bytes and ends it with "..." (docs/parser.md), so such a
Message-ID can only be matched by prefix, and the hash index on message_id cannot serve a
prefix test. The search used to read every event of the account over its whole retention
window to find them. A mailbox polled every minute has ~3,000 events a day, so that was
half a million rows at 180 days. This partial b-tree holds only the cut-short ones: a few
in a hundred deletions, none of the logins, so it costs ingest nearly nothing. The search
now reads the account's cut-short IDs from it, and exact IDs through the hash index.

A plain CREATE INDEX on the partitioned table would stop ingest (writes to every partition)
for the whole build, a scan of every row. So the index is made the way PostgreSQL's manual
gives for partitioned tables: on the parent alone (ON ONLY, instant, not yet valid), then
CONCURRENTLY on each partition outside a transaction, each attached to it; the parent's
becomes valid when the last one is attached, and partitions made later get it by
themselves. Should a concurrent build fail, drop the invalid index it leaves
(`\d event_y…` shows it) and upgrade again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = "event_truncated_message_id_idx"
# spelled as the search's query spells it (webui.records.queries), so the planner matches them
PREDICATE = "right(message_id, 3) = '...'"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON ONLY event (account, ts) WHERE {PREDICATE}")
    partitions = [
        name
        for (name,) in op.get_bind().execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'event'::regclass ORDER BY c.relname"
            )
        )
    ]
    with op.get_context().autocommit_block():
        for part in partitions:
            op.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{part}_truncated_msgid_idx" ON "{part}" '
                f"(account, ts) WHERE {PREDICATE}"
            )
    for part in partitions:
        op.execute(f'ALTER INDEX {NAME} ATTACH PARTITION "{part}_truncated_msgid_idx"')


def downgrade() -> None:
    op.drop_index(NAME, table_name="event")  # drops the partitions' indexes with it
