"""Recording staff lookups, and telling an owner when staff looked at their records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from webui.staff.models import StaffLookup

OWNER_LIMIT = 100  # lookups listed one by one (lookups_of): the newest
OWNER_PAGE_DAYS = 14  # days with lookups per page of the owner's grouped list (lookup_days_of)


# The account in a line the parser could not read, where one is recognisable: Dovecot's
# `user=<…>` field, or the `imap(…)`/`pop3(…)` prefix of a mail process's line. Best effort
# (the line is malformed, and attacker-written): it decides which owners are told, not
# whether the look is recorded.
_ACCOUNT_IN_LINE = re.compile(
    rb"user=<([^<>\s]{1,320})>|\b(?:imap|pop3|lmtp|submission|managesieve|doveadm)\(([^()\s]{1,320})\)"
)


def accounts_in_lines(raw_lines: Iterable[bytes]) -> set[str]:
    """The accounts that raw log lines mention (see _ACCOUNT_IN_LINE)."""
    found = set()
    for raw in raw_lines:
        for match in _ACCOUNT_IN_LINE.finditer(bytes(raw)):
            name = (match.group(1) or match.group(2)).decode("utf-8", "backslashreplace")
            if "\x00" not in name:
                found.add(name)
    return found


class SeenByStaff(NamedTuple):
    """What an owner is told about one staff lookup: when, and which range (not who)."""

    at: datetime
    start: datetime | None
    end: datetime | None


def staff_role(user: AbstractBaseUser) -> str:
    """The staff member's groups, by name ("" for none): what an owner is told about who looked."""
    return ", ".join(sorted(user.groups.values_list("name", flat=True)))[:300]


def record_lookups(
    user: AbstractBaseUser,
    accounts: Iterable[str],
    start: datetime | None,
    end: datetime | None,
    via: str,
    query: str = "",
) -> int:
    """Write one audit row per account; called before the records are read, so a failed read is audited too."""
    role = staff_role(user)
    rows = [
        StaffLookup(
            staff=user,
            staff_username=user.get_username(),
            staff_role=role,
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


@dataclass(frozen=True)
class LookupDay:
    """One line of the owner's list: the staff lookups of one day (owner's zone) by one staff role."""

    day: date
    role: str  # "" for staff in no group
    count: int
    first: date | None  # the earliest day looked at; None when some lookup was of any time
    last: date | None


def lookup_days_of(
    account: str, before: date | None = None, days: int = OWNER_PAGE_DAYS
) -> tuple[list[LookupDay], date | None]:
    """Every staff lookup of `account`, one line per day and staff role, newest day first.

    One page: the newest `days` days that have lookups, before the day `before` (keyset on
    the day: a page never splits a day). Returns the lines and the `before` of the next
    page, None on the last one. Both reads go through the index on (account, at).
    """
    zone = timezone.get_current_timezone()
    looked = StaffLookup.objects.filter(account=account)
    if before is not None:
        looked = looked.filter(at__lt=timezone.make_aware(datetime.combine(before, time.min)))
    local_day = TruncDate("at", tzinfo=zone)
    newest = list(
        looked.annotate(day=local_day).values_list("day", flat=True).distinct().order_by("-day")[: days + 1]
    )
    if not newest:
        return [], None
    shown = newest[:days]
    oldest = timezone.make_aware(datetime.combine(shown[-1], time.min))
    groups = (
        looked.filter(at__gte=oldest)
        .annotate(day=local_day)
        .values("day", "staff_role")
        .annotate(
            count=Count("id"),
            first=Min("start"),
            last=Max("end"),
            open=Count("id", filter=Q(start__isnull=True) | Q(end__isnull=True)),
        )
        .order_by("-day", "staff_role")
    )
    lines = [
        LookupDay(
            day=g["day"],
            role=g["staff_role"],
            count=g["count"],
            # ranges are half-open: the last day looked at is the one before `end`
            first=None if g["open"] else timezone.localdate(g["first"]),
            last=None if g["open"] else timezone.localdate(g["last"] - timedelta(microseconds=1)),
        )
        for g in groups
    ]
    return lines, (shown[-1] if len(newest) > days else None)
