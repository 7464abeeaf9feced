"""CSV export of a period's rows, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from webui.records.display import visible
from webui.records.queries import EXPORT_FIELDS, EXPORT_LIMIT, export_values
from webui.records.types import megabytes, type_of

# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): a log value such as a
# Message-ID or folder name is attacker-written, so it is prefixed with ' to stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_cell(value: object) -> str:
    """A cell as text a spreadsheet shows as it is: invisible characters as markers, never a formula.

    The markers (display.visible) are kept in the CSV too: it is read by people in a
    spreadsheet, which reorders text around a U+202E exactly as a page would, and a control
    character is no better in a cell. The exact bytes stay in the database, for analysts'
    SQL (docs/sql.md). Markers go in first, so that a value that hid "=" behind an invisible
    character starts with "⟨" and is text either way.
    """
    if value is None:
        return ""
    text = visible(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS[:4]):
        return "'" + text
    return text


_SIZE = EXPORT_FIELDS.index("size")  # shown in MB, and only on a logout (size before deletion)


def header() -> list[str]:
    return [
        _("No."), _("Time"), _("Type"), _("Protocol"), _("Kind"), _("IP"), _("Folder"), _("To folder"),
        _("Message-ID"), _("deleted"), _("messages before"), _("MB before deletion"), _("expunged"),
        _("trashed"), _("reason"), _("Host"), _("Session"), _("Client"), _("Client version"), _("Client OS"),
        _("Client vendor"),
    ]  # fmt: skip


def rows_csv(
    account: str,
    start: datetime,
    end: datetime,
    hidden: frozenset[str] = frozenset(),
    limit: int = EXPORT_LIMIT,
) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheets read the Chinese labels correctly.
    Past `limit` rows the export stops with a last line that says so."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header())
    labels: dict[tuple[str, str], str] = {}
    localtime = timezone.localtime
    number = 0
    for row in export_values(account, start, end, hidden, limit):
        number += 1
        if number > limit:
            writer.writerow(
                [
                    _("The export stops here, at %(limit)s rows: choose a shorter period.")
                    % {"limit": f"{limit:,}"}
                ]
            )
            break
        ts, protocol, kind, size = row[0], row[1], row[2], row[_SIZE]
        label = labels.get((protocol, kind))
        if label is None:
            label = labels[(protocol, kind)] = safe_cell(type_of(protocol, kind).label)
        cells = list(row[1:])
        cells[_SIZE - 1] = megabytes(size) if size is not None and kind == "logout" else None
        writer.writerow([number, localtime(ts).isoformat(), label, *map(safe_cell, cells)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
