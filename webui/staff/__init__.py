"""Help-desk search with an audit trail, the read-only event admin, analysts' SQL access."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webui.staff.audit import SeenByStaff

__all__ = ["lookups_of"]


def lookups_of(account: str, since: datetime | None = None) -> list[SeenByStaff]:
    """When staff looked at `account`'s records (newest first): for the owner's own page.

    Each item has `at` (when) and `start`/`end` (the half-open range looked at; None = any
    time); the staff member's name is deliberately not part of it.
    """
    # imported here: this package is imported before Django's app registry is ready
    from webui.staff.audit import lookups_of as _lookups_of

    return _lookups_of(account, since)
