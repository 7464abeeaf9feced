"""The event schema, written once as SQLAlchemy Tables; alembic migrations follow it by hand."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

# Rules kept here (design.md, "PostgreSQL"):
# - event is range-partitioned by month on ts; every primary key and unique constraint
#   includes ts (the partition column) and account (a future Citus distribution column).
# - the primary key (account, ts, id) is also the index that serves an owner's day.
# - defaults live in the database: Django never applies Python-side defaults to these tables.
event = sa.Table(
    "event",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger,
        sa.Sequence("event_id_seq"),
        nullable=False,
        server_default=sa.text("nextval('event_id_seq')"),
    ),
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
    # what the client said it is (IMAP ID, imap_id_log): on the login row and later rows of its session
    sa.Column("client_name", sa.Text),
    sa.Column("client_version", sa.Text),
    sa.Column("client_os", sa.Text),
    sa.Column("client_vendor", sa.Text),
    # provenance: which file and byte offset the line came from
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
    # hash, not btree: a Message-ID is attacker-written and may exceed a btree entry's limit
    sa.Index(
        "event_message_id_idx",
        "message_id",
        postgresql_using="hash",
        postgresql_where=sa.text("message_id IS NOT NULL"),
    ),
    sa.Index("event_ip_ts_idx", "ip", "ts", postgresql_where=sa.text("ip IS NOT NULL")),
    # Message-IDs that mail_log cut short ("..."): the search matches them by prefix (0003)
    sa.Index(
        "event_truncated_message_id_idx",
        "account",
        "ts",
        postgresql_where=sa.text("right(message_id, 3) = '...'"),
    ),
    # the newest events first, of a day or of all: the staff admin's lists, analysts' ranges (0002)
    sa.Index("event_ts_idx", "ts"),
    postgresql_partition_by="RANGE (ts)",
)

# One row per log file ever read, known by the fingerprint of its first bytes, so that a
# renamed or compressed copy (mail.log.1, mail.log.2.gz) is recognised as the same file.
# Invariant: byte_offset only ever moves in the same transaction as the events it covers.
source = sa.Table(
    "source",
    metadata,
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
    sa.Column("year", sa.Integer),  # year inference state: year of the last line read
    sa.Column("month", sa.Integer),  # and its month, to see a December → January step
    sa.Column("last_event_ts", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Lines that looked like Dovecot but could not be read, or could not be decoded at all.
# Kept byte for byte so that nothing is silently lost; `ingest status` counts them.
bad_line = sa.Table(
    "bad_line",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id", ondelete="CASCADE"), nullable=False),
    sa.Column("line_offset", sa.BigInteger, nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("source_id", "line_offset", name="bad_line_source_offset_key"),
)

# What a checkpoint stands on: a hash of the bytes just before source.byte_offset (the last
# TAIL_BYTES of them), written in the same transaction as the offset. A file whose first
# line matches a source but whose bytes before the offset do not (a restored backup, a file
# replaced and written again) is not that file: it is not resumed blindly (follow.md).
# byte_offset says which offset the hash was taken at; when it differs from the source's
# (a row from before 0004, a compressed file) the checkpoint is simply unverified.
checkpoint = sa.Table(
    "checkpoint",
    metadata,
    sa.Column(
        "source_id",
        sa.Integer,
        sa.ForeignKey("source.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("byte_offset", sa.BigInteger, nullable=False),
    sa.Column("tail_hash", sa.Text),  # NULL until a batch is committed
    # what the reader found out about this file, for `status` (e.g. that it replaced another)
    sa.Column("note", sa.Text),
    # the first line (what the fingerprint hashes): found again inside another file, it marks
    # where a copy of this one starts (a concatenation of rotated logs)
    sa.Column("head", sa.LargeBinary),
)

# One row per run of `ingest follow`: what it follows and when it last showed it was alive.
# `status` reads it, so that a dead follower is reported whatever the files look like.
follower = sa.Table(
    "follower",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("hostname", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("paths", pg.ARRAY(sa.Text), nullable=False),  # [HOST=]PATH|GLOB entries
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("stopped_at", sa.DateTime(timezone=True)),  # set by a clean exit (SIGTERM)
    sa.Column("waiting", sa.Text),  # what it is waiting for, while it waits (a lock, the database)
)
