"""Sign-in of mailbox owners (IMAP password check, captcha, lock-out) and of staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["mailbox_account"]


def mailbox_account(user: AbstractBaseUser) -> str:
    """The mailbox account whose events `user` may see, spelled as the Dovecot log spells it.

    The IMAP backend names the Django user after the login name it sent to the mail server
    (`alice@example.edu`, or bare `alice` for a domain whose login form is `local`), and
    Dovecot logs exactly that name as `user=<…>`; so the account is the username, unchanged.
    A staff or demo user sees the mailbox named like its username (usually none).
    """
    return user.get_username()
