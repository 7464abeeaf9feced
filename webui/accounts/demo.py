"""Demo users with published passwords, for a development or demonstration site only."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

# Published on purpose: a demo site's visitors sign in with them (README, docs/configuration.md).
DEMO_PASSWORDS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}


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
    """Create or reset alice and bob in the first configured domain; {username: password}.

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
    return created
