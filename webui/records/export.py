"""CSV export of a period's rows, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from webui.records.queries import all_rows
from webui.records.types import megabytes

# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): a log value such as a
# Message-ID or folder name is attacker-written, so it is prefixed with ' to stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS[:4]):
        return "'" + text
    return text


def header() -> list[str]:
    return [
        _("No."), _("Time"), _("Type"), _("Protocol"), _("Kind"), _("IP"), _("Folder"), _("To folder"),
        _("Message-ID"), _("deleted"), _("messages before"), _("MB before deletion"), _("expunged"),
        _("trashed"), _("reason"), _("Host"), _("Session"),
    ]  # fmt: skip


def rows_csv(
    account: str, start: datetime, end: datetime, hidden: frozenset[str] = frozenset(), show_date: bool = True
) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheets read the Chinese labels correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header())
    for row in all_rows(account, start, end, hidden):
        e = row.event
        writer.writerow(
            [row.number, timezone.localtime(e.ts).isoformat()]
            + [
                safe_cell(v)
                for v in (
                    row.type.label, e.protocol, e.kind, e.ip, e.mailbox, e.mailbox_to, e.message_id,
                    e.deleted, e.messages, None if e.size is None or e.kind != "logout" else megabytes(e.size),
                    e.expunged, e.trashed, e.reason, e.host, e.session,
                )
            ]
        )  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8")
