"""Sign-in of mailbox owners (IMAP password check, captcha, lock-out) and of staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["OWNER_BACKENDS", "mailbox_account"]

# The backends whose sign-in proves that a user owns the mailbox named like them.
IMAP_BACKEND = "webui.accounts.backends.ImapBackend"
DEMO_BACKEND = "webui.accounts.backends.DemoBackend"
OWNER_BACKENDS = (IMAP_BACKEND, DEMO_BACKEND)


def mailbox_account(request: HttpRequest) -> str | None:
    """The mailbox whose records the signed-in user may see as its owner, or None.

    Invariant (the one access rule of the owner's pages, docs/decisions/0006): a user owns
    the mailbox named like them only when the session was signed in by the mail server
    (ImapBackend), or by DemoBackend while demo mode is on. A local password — set in the
    admin, by createsuperuser, or on a user the IMAP backend made — proves nothing about a
    mailbox, so a session signed in by it owns none; staff read records through the
    audited staff pages only.

    The IMAP backend names the Django user after the login name it sent to the mail server
    (`alice@example.edu`, or bare `alice` for a domain whose login form is `local`), and
    Dovecot logs exactly that name as `user=<…>`; so the account is the username, unchanged.
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY

    user = request.user
    if not user.is_authenticated:
        return None
    backend = request.session.get(BACKEND_SESSION_KEY)
    if backend == IMAP_BACKEND or (backend == DEMO_BACKEND and settings.MAILTRAIL_DEMO):
        return user.get_username()
    return None
