"""Demo users with published passwords, for a development or demonstration site only."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

# Published on purpose: a demo site's visitors sign in with them (README, docs/configuration.md).
DEMO_PASSWORDS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}
# A help-desk member of the demo: the admin, and the staff search at /staff/.
DEMO_STAFF = ("helpdesk", "helpdesk-demo-password")
# what the demo's help desk may do: look up any mailbox, and view (never change) the admin's tables
DEMO_STAFF_PERMISSIONS = {"staff": ("view_any_mailbox", "view_stafflookup"),
                          "records": ("view_event", "view_source", "view_badline")}  # fmt: skip


class DemoRefused(Exception):
    """Demo users were asked for where they must not exist."""


def demo_allowed() -> bool:
    """Demo mode: MAILTRAIL_DEMO, and nothing else (DJANGO_DEBUG alone is development, not a demo)."""
    return bool(settings.MAILTRAIL_DEMO)


def demo_usernames() -> set[str]:
    """The users `create_demo_users` makes: the only ones the demo backend signs in."""
    domain = next(iter(settings.MAILTRAIL_MAIL_DOMAINS), None)
    return {f"{name}@{domain}" for name in DEMO_PASSWORDS} if domain else set()


def create_demo_users() -> dict[str, str]:
    """Create or reset alice and bob in the first configured domain, and the help-desk user;
    {username: password}.

    A user the IMAP backend made (unusable password) is a real mailbox owner: never touched.
    """
    if not demo_allowed():
        raise DemoRefused("demo users need MAILTRAIL_DEMO=yes")
    domain = next(iter(settings.MAILTRAIL_MAIL_DOMAINS))
    User = get_user_model()
    created: dict[str, str] = {}
    for name, password in DEMO_PASSWORDS.items():
        username = f"{name}@{domain}"
        user, new = User._default_manager.get_or_create(**{User.USERNAME_FIELD: username})
        if not new and not user.has_usable_password():
            raise DemoRefused(f"{username} is a real mailbox owner (signed in by IMAP): not changed")
        user.set_password(password)
        user.save()
        created[username] = password
    name, password = DEMO_STAFF
    staff, new = User._default_manager.get_or_create(**{User.USERNAME_FIELD: name})
    if not new and not staff.is_staff:
        raise DemoRefused(f"{name} exists and is not staff: not changed")
    staff.is_staff = True
    staff.set_password(password)
    staff.save()
    for app, codenames in DEMO_STAFF_PERMISSIONS.items():
        staff.user_permissions.add(
            *Permission.objects.filter(content_type__app_label=app, codename__in=codenames)
        )
    created[name] = password
    return created
