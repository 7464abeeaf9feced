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
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("client_name", "client_version", "client_os", "client_vendor")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("event", sa.Column(name, sa.Text))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("event", name)
