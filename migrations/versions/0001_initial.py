"""Event table partitioned by month, source checkpoints, bad lines.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE event_id_seq AS bigint")
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger, nullable=False, server_default=sa.text("nextval('event_id_seq')")),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("host", sa.Text, nullable=False, server_default=""),
        sa.Column("protocol", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("ip", pg.INET),
        sa.Column("session", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("deleted", sa.Integer),
        sa.Column("messages", sa.Integer),
        sa.Column("size", sa.BigInteger),
        sa.Column("deleted_bytes", sa.BigInteger),
        sa.Column("expunged", sa.Integer),
        sa.Column("trashed", sa.Integer),
        sa.Column("bytes_in", sa.BigInteger),
        sa.Column("bytes_out", sa.BigInteger),
        sa.Column("mailbox", sa.Text),
        sa.Column("mailbox_to", sa.Text),
        sa.Column("message_id", sa.Text),
        sa.Column("uid", sa.BigInteger),
        sa.Column("attempts", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("line_offset", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account", "ts", "id", name="event_pkey"),
        sa.CheckConstraint(
            "protocol IN ('pop3','imap','submission','sieve','lmtp','doveadm','auth')",
            name="event_protocol_check",
        ),
        sa.CheckConstraint(
            "kind IN ('login','logout','auth_fail','message_delete','mailbox_delete',"
            "'mailbox_rename','mailbox_create','flag_delete','undelete','copy','save')",
            name="event_kind_check",
        ),
        postgresql_partition_by="RANGE (ts)",
    )
    op.execute("ALTER SEQUENCE event_id_seq OWNED BY event.id")
    op.create_index(
        "event_message_id_idx",
        "event",
        ["message_id"],
        postgresql_using="hash",
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    op.create_index("event_ip_ts_idx", "event", ["ip", "ts"], postgresql_where=sa.text("ip IS NOT NULL"))

    op.create_table(
        "source",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False, server_default=""),
        sa.Column("byte_offset", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("lines", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("events", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bad_lines", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("year", sa.Integer),
        sa.Column("month", sa.Integer),
        sa.Column("last_event_ts", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "bad_line",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_offset", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("source_id", "line_offset", name="bad_line_source_offset_key"),
    )

    # Partitions for the months around today; the sink creates others as events need them.
    from ingest.partitions import ensure_partitions, months_around

    ensure_partitions(op.get_bind(), months_around(datetime.now(UTC).date()))


def downgrade() -> None:
    op.drop_table("bad_line")
    op.drop_table("source")
    op.drop_table("event")  # drops its partitions and the owned sequence
