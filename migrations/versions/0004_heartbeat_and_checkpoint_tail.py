"""The follower's heartbeat, and what each checkpoint stands on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

`follower`: one row per run of `ingest follow` (host, pid, followed paths, last heartbeat),
so that `ingest status` reports a dead follower, and the files it should be reading, instead
of judging by the files alone. `checkpoint`: a hash of the bytes before each source's
offset, so that a file which shares a known file's first line but not its content (a
restored backup, a replaced log) is recognised instead of being resumed in the middle of
a line. Both are small; neither touches the event table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint",
        sa.Column(
            "source_id",
            sa.Integer,
            sa.ForeignKey("source.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("byte_offset", sa.BigInteger, nullable=False),
        sa.Column("tail_hash", sa.Text),  # NULL until a batch is committed
        sa.Column("note", sa.Text),
        sa.Column("head", sa.LargeBinary),
    )
    op.create_table(
        "follower",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("paths", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.Column("waiting", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("follower")
    op.drop_table("checkpoint")
