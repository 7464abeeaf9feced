"""A small index of the events whose Message-ID Dovecot cut short, for the Message-ID search.

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
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the predicate is spelled as the search's query spells it, so the planner can match them
    op.execute(
        "CREATE INDEX event_truncated_message_id_idx ON event (account, ts) WHERE right(message_id, 3) = '...'"
    )


def downgrade() -> None:
    op.drop_index("event_truncated_message_id_idx", table_name="event")
