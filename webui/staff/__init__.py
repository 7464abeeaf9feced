"""Help-desk search with an audit trail, the read-only event admin, analysts' SQL access."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    from webui.staff.audit import LookupDay, SeenByStaff

__all__ = ["lookup_days_of", "lookups_of"]


def lookups_of(account: str, since: datetime | None = None) -> list[SeenByStaff]:
    """When staff looked at `account`'s records (newest first): for the owner's own page.

    Each item has `at` (when) and `start`/`end` (the half-open range looked at; None = any
    time); the staff member's name is deliberately not part of it.
    """
    # imported here: this package is imported before Django's app registry is ready
    from webui.staff.audit import lookups_of as _lookups_of

    return _lookups_of(account, since)


def lookup_days_of(account: str, before: date | None = None) -> tuple[list[LookupDay], date | None]:
    """Every staff lookup of `account`, one line per day and staff role, a page of days at a
    time (webui.staff.audit.lookup_days_of): what the owner's page shows. No staff names."""
    from webui.staff.audit import lookup_days_of as _lookup_days_of

    return _lookup_days_of(account, before)
