"""What the client said it is: the IMAP ID fields on the event table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Dovecot logs the IMAP ID command a client sends (`imap_id_log = *`): name, version, os,
vendor ("Thunderbird 115.3 on Windows"). The owner's question is "which of my devices did
this?", and an IP answers it badly behind NAT and mobile carriers. The fields are kept on
the session's login row and on the later rows of that session, joined the way the IP is
(docs/parser.md). Adding nullable columns without a default only changes the catalogue:
no partition is rewritten, and the lock is held for an instant.

The analysts' `sessions` view gains the four, from the session's first row that carries
any (CREATE OR REPLACE VIEW may only add columns at the end, and keeps the grants).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("client_name", "client_version", "client_os", "client_vendor")


def _views_0002():
    """0002's module (frozen): its `sessions` view, which this one extends."""
    spec = importlib.util.spec_from_file_location(
        "_views_0002", Path(__file__).with_name("0002_analyst_views.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ANY_CLIENT = " OR ".join(f"{c} IS NOT NULL" for c in COLUMNS)
# the four from one row: the same filter and order for each
_SESSION_CLIENT = "".join(
    f",\n    (array_agg({c} ORDER BY ts, id) FILTER (WHERE {_ANY_CLIENT}))[1] AS {c}" for c in COLUMNS
)


def sessions_view(frozen: str) -> str:
    head, _, tail = frozen.rstrip().rpartition("\n    count(*) AS events")
    return (
        head.replace("CREATE VIEW", "CREATE OR REPLACE VIEW")
        + "\n    count(*) AS events"
        + _SESSION_CLIENT
        + tail
        + "\n"
    )


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("event", sa.Column(name, sa.Text))
    op.execute(sessions_view(_views_0002().SESSIONS))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS sessions")  # a view cannot lose columns by REPLACE
    op.execute(_views_0002().SESSIONS)
    for name in reversed(COLUMNS):
        op.drop_column("event", name)
