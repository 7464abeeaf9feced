"""Personas and events for the staff tests, written straight into the event table."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone

ALICE = "alice@example.edu"
BOB = "bob@example.edu"
ALICE_IP = "192.0.2.7"
BOB_IP = "203.0.113.4"


def insert_event(ts: datetime, account: str, kind: str = "login", protocol: str = "imap", **values) -> int:
    row = {"ts": ts, "host": "mx1", "protocol": protocol, "kind": kind, "account": account}
    row.update(values)
    row.setdefault("source_id", 0)
    row.setdefault("line_offset", 0)
    cols = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO event ({cols}) VALUES ({marks}) RETURNING id", list(row.values()))
        return cur.fetchone()[0]


def recent(minutes: int = 30) -> datetime:
    """A moment earlier today (local time), so that "today" lists it whatever the hour."""
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(midnight + timedelta(seconds=1), now - timedelta(minutes=minutes))


def staff_user(name: str, *, may_look: bool, admin_events: bool = False):
    """A staff member; `may_look` puts them in the help-desk group with view_any_mailbox."""
    user = get_user_model().objects.create_user(name, password="pw-" + name, is_staff=True)
    if may_look:
        group, _ = Group.objects.get_or_create(name="help desk")
        group.permissions.add(
            Permission.objects.get(codename="view_any_mailbox", content_type__app_label="staff")
        )
        user.groups.add(group)
    if admin_events:
        user.user_permissions.add(
            Permission.objects.get(codename="view_event", content_type__app_label="records"),
            Permission.objects.get(codename="view_badline", content_type__app_label="records"),
        )
    return user


def alice_and_bob() -> dict[str, int]:
    """Alice logs in and deletes a message; Bob fails to sign in. Returns the event ids."""
    ts = recent()
    return {
        "alice_login": insert_event(ts, ALICE, ip=ALICE_IP, session="AbCd+/Ef12345678"),
        "alice_delete": insert_event(
            ts + timedelta(seconds=5),
            ALICE,
            "message_delete",
            ip=ALICE_IP,
            session="AbCd+/Ef12345678",
            mailbox="INBOX",
            message_id="<one@example.org>",
        ),
        "bob_login": insert_event(ts, BOB, "auth_fail", ip=BOB_IP, reason="Password mismatch"),
    }
