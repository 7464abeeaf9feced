"""Recording staff lookups, and telling an owner when staff looked at their records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.contrib.auth.base_user import AbstractBaseUser

from webui.staff.models import StaffLookup

OWNER_LIMIT = 100  # lookups shown to an owner: the newest, far more than a mailbox ever gets


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
