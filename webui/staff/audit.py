"""Recording staff lookups, and telling an owner when staff looked at their records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.contrib.auth.base_user import AbstractBaseUser

from webui.staff.models import StaffLookup

OWNER_LIMIT = 100  # lookups shown to an owner: the newest, far more than a mailbox ever gets


class SeenByStaff(NamedTuple):
    """What an owner is told about one staff lookup: when, and which range (not who)."""

    at: datetime
    start: datetime | None
    end: datetime | None


def record_lookups(
    user: AbstractBaseUser,
    accounts: Iterable[str],
    start: datetime | None,
    end: datetime | None,
    via: str,
    query: str = "",
) -> int:
    """Write one audit row per account; called before the records are read, so a failed read is audited too."""
    rows = [
        StaffLookup(
            staff=user,
            staff_username=user.get_username(),
            account=account,
            start=start,
            end=end,
            via=via,
            query=query[:1000],
        )
        for account in sorted(set(accounts))
    ]
    StaffLookup.objects.bulk_create(rows)
    return len(rows)


def lookups_of(account: str, since: datetime | None = None) -> list[SeenByStaff]:
    """The staff lookups of `account`'s records, newest first (at most OWNER_LIMIT)."""
    qs = StaffLookup.objects.filter(account=account)
    if since is not None:
        qs = qs.filter(at__gte=since)
    return [
        SeenByStaff(*row) for row in qs.order_by("-at", "-id").values_list("at", "start", "end")[:OWNER_LIMIT]
    ]
