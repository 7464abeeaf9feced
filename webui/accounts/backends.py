"""Authentication backends: the mail server (owners), the demo (demo mode), local passwords (staff).

Invariant: the mailbox password goes to the mail server and nowhere else. It is never stored
(the Django user gets an unusable password), never logged, and never part of an exception message.

Who may see a mailbox's records is decided by the backend that signed the session in
(webui.accounts.mailbox_account, docs/decisions/0006-owners-proven-by-the-mail-server.md):
only ImapBackend and, in demo mode, DemoBackend prove that a user owns a mailbox.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import ssl
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from webui.accounts.config import MailDomain, MailServer
from webui.accounts.demo import demo_allowed, demo_usernames
from webui.accounts.middleware import client_ip as client_address

log = logging.getLogger(__name__)

# RFC 5530 response codes that say "not now" rather than "no": the password was not judged.
_UNAVAILABLE_CODES = {"UNAVAILABLE", "SERVERBUG", "PRIVACYREQUIRED"}
# imaplib puts the server's text in the message, sometimes as a bytes repr: b'[CODE] text'
_CODE = re.compile(r"^(?:b['\"])?\s*\[([A-Z-]+)")


# The answer is known by then; a server slow to say goodbye gets this long, then the line drops.
_LOGOUT_SECONDS = 2.0


class MailServerUnavailable(Exception):
    """The mail server could not be asked; this says nothing about the password."""


def _tls_context(server: MailServer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=server.ca_file)
    if not server.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _allow(conn: imaplib.IMAP4, deadline: float) -> None:
    """Give the next exchange only what is left of the check's time."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the mail server took longer than its timeout")
    conn.sock.settimeout(left)


def _open(server: MailServer, deadline: float) -> imaplib.IMAP4:
    if server.security == "tls":
        return imaplib.IMAP4_SSL(
            server.host, server.port, ssl_context=_tls_context(server), timeout=server.timeout
        )
    conn = imaplib.IMAP4(server.host, server.port, timeout=server.timeout)
    if server.security == "starttls":
        try:
            _allow(conn, deadline)
            conn.starttls(ssl_context=_tls_context(server))
        except BaseException:
            conn.shutdown()
            raise
    return conn


def _quote(text: str) -> str:
    # imaplib quotes the password but sends the user name bare
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@sensitive_variables("password", "plain")
def _login(conn: imaplib.IMAP4, login: str, password: str) -> None:
    """Raise IMAP4.error when the server says NO; SASL PLAIN carries any UTF-8 password."""
    if "AUTH=PLAIN" in conn.capabilities:
        plain = b"\0" + login.encode() + b"\0" + password.encode()
        conn.authenticate("PLAIN", lambda _challenge: plain)
    elif "LOGINDISABLED" in conn.capabilities:
        raise MailServerUnavailable(
            "the server refuses plain-text LOGIN (LOGINDISABLED): use tls or starttls"
        )
    else:
        conn.login(_quote(login), password)


def _refused_for_now(error: imaplib.IMAP4.error) -> bool:
    """True when a NO/BAD was about the server, not the password."""
    text = str(error)
    if "command error: BAD" in text:
        return True
    match = _CODE.match(text)
    return bool(match and match.group(1) in _UNAVAILABLE_CODES)


def _forward(conn: imaplib.IMAP4, client_ip: str | None) -> None:
    """Tell the server whose sign-in this is (RFC 2971 ID; Dovecot's x-originating-ip)."""
    if "ID" not in conn.capabilities:
        return
    try:
        address = str(ipaddress.ip_address(client_ip or ""))
    except ValueError:
        return  # never put an unchecked header value into an IMAP command
    try:
        conn.xatom("ID", f'("x-originating-ip" "{address}")')
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error:
        log.warning("%s refused the ID command; the owner's address is not forwarded", conn.host)


@sensitive_variables("password")
def check_imap_password(server: MailServer, login: str, password: str, client_ip: str | None = None) -> bool:
    """Whether `login` may sign in to `server` with `password`.

    False: the server said the credentials are wrong (unknown user and wrong password look
    the same, as they do to a mail client). MailServerUnavailable: the server could not
    judge them (down, unreachable, slow, TLS failure, a protocol error or a temporary refusal).

    server.timeout bounds the whole check, not each exchange: a server that answers slowly
    step by step must not hold a web worker past its own timeout.
    """
    deadline = time.monotonic() + server.timeout
    try:
        conn = _open(server, deadline)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailServerUnavailable(f"{server.host}:{server.port}: {type(exc).__name__}: {exc}") from None
    broken = True
    try:
        try:
            if server.forward_client_ip:
                _allow(conn, deadline)
                _forward(conn, client_ip)
            _allow(conn, deadline)
            _login(conn, login, password)
        except imaplib.IMAP4.abort as exc:  # the connection broke: a subclass of error, so first
            raise MailServerUnavailable(f"{server.host}:{server.port}: connection lost: {exc}") from None
        except imaplib.IMAP4.error as exc:
            if _refused_for_now(exc):
                raise MailServerUnavailable(f"{server.host}:{server.port}: {exc}") from None
            broken = False
            return False
        except UnicodeEncodeError:
            broken = False
            return False  # a non-ASCII password on a server with LOGIN only cannot be right there
        except OSError as exc:
            raise MailServerUnavailable(f"{server.host}:{server.port}: {type(exc).__name__}: {exc}") from None
        broken = False
        return True
    finally:
        _hang_up(conn, politely=not broken)


def _hang_up(conn: imaplib.IMAP4, politely: bool) -> None:
    # LOGOUT lets the server log a clean logout; after a timeout it would only wait again
    if politely:
        try:
            conn.sock.settimeout(_LOGOUT_SECONDS)
            conn.logout()
            return
        except (OSError, imaplib.IMAP4.error):
            pass
    try:
        conn.shutdown()
    except OSError:
        pass


class ImapBackend(BaseBackend):
    """Signs in `account@domain` for a domain of MAILTRAIL_DOMAINS by asking its IMAP server.

    Raises MailServerUnavailable when the server cannot judge the password, so that the
    form can say so (and the failure is not counted towards a lock-out).

    On success the Django user named after the login name (what Dovecot logs, see
    webui.accounts.mailbox_account) exists, with an unusable password. A user that has a
    usable password or staff rights is never signed in this way: a mailbox of the same
    name must not open a staff account.
    """

    @sensitive_variables("password")
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        mailbox_sign_in: bool = False,
        **kwargs: object,
    ) -> AbstractBaseUser | None:
        # Only the owner's form asks the mail server (it passes mailbox_sign_in=True and can
        # say "server unavailable"); the admin's login is for local staff passwords.
        if not mailbox_sign_in:
            return None
        domain, login = self.resolve(username)
        if domain is None or not password:
            return None
        client_ip = client_address(request) if request is not None else None
        try:
            right = check_imap_password(domain.server, login, password, client_ip)
        except MailServerUnavailable as exc:
            log.warning("mail server of %s cannot check passwords: %s", domain.name, exc)
            raise
        if not right:
            log.info("IMAP sign-in refused for %r at %s", login, domain.server.host)
            return None
        return self.user_for(login)

    @staticmethod
    def resolve(username: str | None) -> tuple[MailDomain | None, str]:
        """The configured domain of `account@domain` and the login name it implies.

        Lower case, as Dovecot's default auth_username_format (%Lu) makes every name before
        it looks the user up and logs it: `Alice` signs in as, and sees the events of, `alice`.
        """
        account, _, name = (username or "").lower().rpartition("@")
        domain = settings.MAILTRAIL_MAIL_DOMAINS.get(name.lower())
        if domain is None or not account:
            return None, ""
        return domain, domain.login_name(account)

    @staticmethod
    def user_for(login: str) -> AbstractBaseUser | None:
        User = get_user_model()
        user, created = User._default_manager.get_or_create(
            **{User.USERNAME_FIELD: login}, defaults={"password": make_password(None)}
        )
        if created:
            return user
        if (
            user.has_usable_password()
            or getattr(user, "is_staff", False)
            or getattr(user, "is_superuser", False)
            or not user.is_active
        ):
            log.warning("IMAP sign-in of %r refused: a local, staff or inactive user has that name", login)
            return None
        return user

    def get_user(self, user_id: int) -> AbstractBaseUser | None:
        User = get_user_model()
        try:
            user = User._default_manager.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None


class LocalPasswordBackend(ModelBackend):
    """Django's password check, for the admin's sign-in only: never for the owner's form.

    A local password proves nothing about a mailbox (anyone with the admin's user page can
    set one), so the owner's form (mailbox_sign_in=True) does not even try it.
    """

    @sensitive_variables("password")
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        mailbox_sign_in: bool = False,
        **kwargs: object,
    ) -> AbstractBaseUser | None:
        if mailbox_sign_in:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class DemoBackend(ModelBackend):
    """In demo mode (MAILTRAIL_DEMO), the demo users' published passwords on the owner's form.

    Only the users `manage.py demo_users` makes (alice and bob of the first domain), and only
    while demo mode is on: turning it off makes their sessions owners of nothing.
    """

    @sensitive_variables("password")
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        mailbox_sign_in: bool = False,
        **kwargs: object,
    ) -> AbstractBaseUser | None:
        if not (mailbox_sign_in and demo_allowed()) or (username or "").lower() not in demo_usernames():
            return None
        user = super().authenticate(request, username=username.lower(), password=password, **kwargs)
        if user is None:
            # a demo has no mail server to ask: a wrong demo password is wrong, not an outage
            raise PermissionDenied
        return user
