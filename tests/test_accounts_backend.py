"""The IMAP authentication backend against a real Dovecot: right, wrong, unknown, unreachable."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import RequestFactory

from tests.dovecot_server import ALICE, BOB, DovecotServer, free_port, running_dovecot
from webui.accounts import IMAP_BACKEND
from webui.accounts.backends import ImapBackend, MailServerUnavailable, check_imap_password
from webui.accounts.config import MailDomain, MailServer

pytestmark = pytest.mark.dovecot

CAROL = "carol"  # a bare login name, as a domain with login form `local` has them
USERS = {
    ALICE: "alice-secret",
    BOB: "bob-secret",
    CAROL: 'pässwörd 秘密 "quoted"',  # UTF-8, a space and quotes: SASL PLAIN carries them
}
# The site signs everyone in from its own address, so Dovecot's per-address auth penalty
# (2 s doubling to 15 s after failures) would slow every later test; it is switched off the
# way Dovecot documents. login_trusted_networks lets the site forward the owner's address.
TEST_SERVER = (
    "login_trusted_networks = 127.0.0.0/8\n"
    "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
)


def server_at(host: str, port: int, security: str = "none", timeout: float = 5, **kw) -> MailServer:
    options = {"verify": True, "ca_file": None} | kw
    return MailServer(host=host, port=port, security=security, timeout=timeout, **options)


@pytest.fixture(scope="module")
def mail() -> Iterator[DovecotServer]:
    with running_dovecot(USERS, TEST_SERVER) as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: the CA file the client trusts, and its key.

    The openssl command comes with dovecot-core, which depends on it.
    """
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_mail(certificate) -> Iterator[tuple[DovecotServer, int]]:
    """A Dovecot with STARTTLS on its IMAP port and TLS from the first byte on another."""
    cert, key = certificate
    imaps = free_port()
    extra = (
        f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n"
        f"service imap-login {{\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps}\n  }}\n}}\n"
    )
    with running_dovecot(USERS, TEST_SERVER + extra) as server:
        yield server, imaps


@pytest.fixture
def domains(settings, mail: DovecotServer) -> dict[str, MailDomain]:
    server = server_at(mail.host, mail.imap_port)
    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server, "full"),
        "staff.example.edu": MailDomain("staff.example.edu", server, "local"),
    }
    return settings.MAILTRAIL_MAIL_DOMAINS


def sign_in(username: str, password: str) -> User | None:
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request, username=username, password=password, mailbox_sign_in=True)


def test_it_accepts_the_right_password(mail: DovecotServer) -> None:
    server = server_at(mail.host, mail.imap_port)
    assert check_imap_password(server, ALICE, mail.users[ALICE]) is True


def test_it_refuses_a_wrong_password(mail: DovecotServer) -> None:
    server = server_at(mail.host, mail.imap_port)
    assert check_imap_password(server, ALICE, "not-" + mail.users[ALICE]) is False


def test_it_refuses_an_unknown_user_the_same_way(mail: DovecotServer) -> None:
    server = server_at(mail.host, mail.imap_port)
    assert check_imap_password(server, "nobody-here@example.edu", "whatever") is False


def test_it_logs_out_politely_after_checking(mail: DovecotServer) -> None:
    mark = mail.mark()
    check_imap_password(server_at(mail.host, mail.imap_port), ALICE, mail.users[ALICE])
    log = mail.wait_for_log("Disconnected: Logged out", since=mark)  # a LOGOUT, not a dropped line
    assert f"imap({ALICE})".encode() in log


def test_it_reports_a_closed_port_as_unavailable() -> None:
    with pytest.raises(MailServerUnavailable):
        check_imap_password(server_at("127.0.0.1", free_port()), ALICE, "alice-secret")


def test_it_gives_up_on_a_silent_server_after_its_timeout() -> None:
    # accepts connections (the kernel completes the handshake) but never greets
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailServerUnavailable):
            check_imap_password(server_at("127.0.0.1", port, timeout=0.5), ALICE, "alice-secret")
        assert time.monotonic() - started < 3


def test_it_reports_a_server_that_speaks_no_imap_as_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"220 smtp.example.edu ESMTP ready\r\n")
                time.sleep(0.5)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(MailServerUnavailable):
            check_imap_password(server_at("127.0.0.1", port), ALICE, "alice-secret")
        thread.join(5)


def test_it_refuses_to_send_a_password_when_starttls_is_missing(mail: DovecotServer) -> None:
    # this Dovecot runs with ssl = no: STARTTLS was asked for, so no plain-text fallback
    mark = mail.mark()
    with pytest.raises(MailServerUnavailable):
        check_imap_password(server_at(mail.host, mail.imap_port, "starttls"), ALICE, mail.users[ALICE])
    time.sleep(0.3)
    assert f"user=<{ALICE}>".encode() not in mail.read_log(mark)


def test_it_reports_tls_to_a_plain_port_as_unavailable(mail: DovecotServer) -> None:
    with pytest.raises(MailServerUnavailable):
        check_imap_password(server_at(mail.host, mail.imap_port, "tls"), ALICE, "alice-secret")


def test_it_checks_a_password_over_starttls_with_a_verified_certificate(tls_mail, certificate) -> None:
    server, _ = tls_mail
    cert, _ = certificate
    starttls = server_at(server.host, server.imap_port, "starttls", ca_file=str(cert))
    assert check_imap_password(starttls, ALICE, USERS[ALICE]) is True
    assert check_imap_password(starttls, ALICE, "wrong") is False


def test_it_checks_a_password_over_tls_from_the_first_byte(tls_mail, certificate) -> None:
    server, imaps = tls_mail
    cert, _ = certificate
    tls = server_at(server.host, imaps, "tls", ca_file=str(cert))
    assert check_imap_password(tls, ALICE, USERS[ALICE]) is True


def test_it_refuses_a_certificate_it_cannot_verify(tls_mail) -> None:
    server, imaps = tls_mail
    with pytest.raises(MailServerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        check_imap_password(server_at(server.host, imaps, "tls"), ALICE, USERS[ALICE])
    unverified = server_at(server.host, imaps, "tls", verify=False)
    assert check_imap_password(unverified, ALICE, USERS[ALICE]) is True


@pytest.mark.django_db
def test_it_makes_a_user_named_as_the_log_names_the_account(domains, mail: DovecotServer) -> None:
    user = sign_in("alice@example.edu", mail.users[ALICE])
    assert user is not None
    assert user.username == ALICE
    assert user.backend == IMAP_BACKEND  # the session this makes owns the mailbox named so
    assert not user.has_usable_password()
    assert mail.users[ALICE] not in User.objects.get(username=ALICE).password


@pytest.mark.django_db
def test_it_lowercases_the_account_as_dovecot_does(domains, mail: DovecotServer) -> None:
    user = sign_in("Alice@Example.EDU", mail.users[ALICE])
    assert user is not None and user.username == ALICE


@pytest.mark.django_db
def test_it_signs_in_a_bare_login_name_with_a_utf8_password(domains, mail: DovecotServer) -> None:
    mark = mail.mark()
    user = sign_in("carol@staff.example.edu", USERS[CAROL])
    assert user is not None
    assert user.get_username() == CAROL
    # and that is the name the server's log shows
    assert f"imap({CAROL})".encode() in mail.wait_for_log(f"imap({CAROL})", since=mark)


@pytest.mark.django_db
def test_it_returns_none_for_a_wrong_password_and_creates_no_user(domains) -> None:
    assert sign_in("bob@example.edu", "wrong") is None
    assert sign_in("nobody-here@example.edu", "wrong") is None
    assert not User.objects.filter(username__in=["bob@example.edu", "nobody-here@example.edu"]).exists()


@pytest.mark.django_db
def test_it_ignores_domains_that_are_not_configured(domains, mail: DovecotServer) -> None:
    backend = ImapBackend()
    assert (
        backend.authenticate(None, username="alice@elsewhere.org", password="x", mailbox_sign_in=True) is None
    )
    assert backend.authenticate(None, username="alice", password="x", mailbox_sign_in=True) is None


@pytest.mark.django_db
def test_it_is_asked_only_by_the_owners_form(domains, mail: DovecotServer) -> None:
    # the admin's login (and anything else) calls authenticate() without the flag
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username=ALICE, password=USERS[ALICE]) is None


@pytest.mark.django_db
def test_it_raises_unavailable_through_authenticate_when_the_server_is_down(settings, domains) -> None:
    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server_at("127.0.0.1", free_port()), "full")
    }
    with pytest.raises(MailServerUnavailable):
        sign_in("alice@example.edu", "alice-secret")


@pytest.mark.django_db
def test_it_never_opens_a_staff_account_of_the_same_name(domains, mail: DovecotServer) -> None:
    User.objects.create_user(CAROL, password="staff-password", is_staff=True)
    assert sign_in("carol@staff.example.edu", USERS[CAROL]) is None


@pytest.mark.django_db
def test_it_never_logs_the_password(domains, mail: DovecotServer, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-but-secret-Zq8"
    sign_in("alice@example.edu", secret)
    sign_in("alice@example.edu", mail.users[ALICE])
    assert caplog.records, "the backend logs refusals"
    assert secret not in caplog.text
    assert mail.users[ALICE] not in caplog.text


@pytest.mark.django_db
def test_it_forwards_the_owners_address_so_dovecot_logs_it(settings, mail: DovecotServer) -> None:
    server = server_at(mail.host, mail.imap_port, forward_client_ip=True)
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", server, "full")}
    mark = mail.mark()
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.41")
    assert authenticate(request, username=ALICE, password=USERS[ALICE], mailbox_sign_in=True) is not None
    assert b"rip=192.0.2.41" in mail.wait_for_log(f"user=<{ALICE}>", since=mark)


def test_it_forwards_nothing_that_is_not_an_address(mail: DovecotServer) -> None:
    server = server_at(mail.host, mail.imap_port, forward_client_ip=True)
    mark = mail.mark()
    assert check_imap_password(server, ALICE, USERS[ALICE], client_ip='1.2.3.4" "x-evil" "1') is True
    assert b"rip=127.0.0.1" in mail.wait_for_log(f"user=<{ALICE}>", since=mark)


class ScriptedImap:
    """A tiny IMAP server on a real socket for replies a stock Dovecot never gives.

    It greets with `capabilities` and answers each tagged command from `replies`
    (command name → tagged reply text), "OK" otherwise; it records the commands it got.
    """

    def __init__(self, capabilities: str, replies: dict[str, str], delay: float = 0) -> None:
        self.capabilities = capabilities
        self.replies = replies
        self.delay = delay  # seconds before each reply
        self.commands: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(f"* OK [CAPABILITY {self.capabilities}] scripted\r\n".encode())
            for raw in lines:
                tag, _, rest = raw.decode(errors="replace").strip().partition(" ")
                command = rest.split(" ", 1)[0].upper()
                self.commands.append(command)
                time.sleep(self.delay)
                if command == "LOGOUT":
                    conn.sendall(f"* BYE bye\r\n{tag} OK done\r\n".encode())
                    return
                conn.sendall(f"{tag} {self.replies.get(command, 'OK done')}\r\n".encode())

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def scripted():
    servers: list[ScriptedImap] = []

    def start(capabilities: str, delay: float = 0, **replies: str) -> ScriptedImap:
        servers.append(ScriptedImap(capabilities, replies, delay))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_it_signs_in_on_a_server_without_the_id_command(scripted) -> None:
    imap = scripted("IMAP4rev1 AUTH=LOGIN")
    server = server_at("127.0.0.1", imap.port, forward_client_ip=True)
    assert check_imap_password(server, "alice", "secret", client_ip="192.0.2.7") is True
    assert "ID" not in imap.commands and "LOGIN" in imap.commands


def test_it_still_signs_in_when_the_server_refuses_the_id_command(scripted) -> None:
    imap = scripted("IMAP4rev1 ID", ID="BAD not here")
    server = server_at("127.0.0.1", imap.port, forward_client_ip=True)
    assert check_imap_password(server, "alice", "secret", client_ip="192.0.2.7") is True
    assert imap.commands[imap.commands.index("ID") + 1] == "LOGIN"


def test_it_takes_an_unavailable_code_for_a_server_problem_not_a_wrong_password(scripted) -> None:
    imap = scripted("IMAP4rev1", LOGIN="NO [UNAVAILABLE] Temporary authentication failure")
    with pytest.raises(MailServerUnavailable, match="UNAVAILABLE"):
        check_imap_password(server_at("127.0.0.1", imap.port), "alice", "secret")


def test_it_takes_a_plain_no_for_a_wrong_password(scripted) -> None:
    imap = scripted("IMAP4rev1", LOGIN="NO [AUTHENTICATIONFAILED] Authentication failed.")
    assert check_imap_password(server_at("127.0.0.1", imap.port), "alice", "secret") is False
    assert imap.commands[-1] == "LOGOUT"


def test_it_never_sends_a_password_where_login_is_disabled(scripted) -> None:
    imap = scripted("IMAP4rev1 LOGINDISABLED")
    with pytest.raises(MailServerUnavailable, match="LOGINDISABLED"):
        check_imap_password(server_at("127.0.0.1", imap.port), "alice", "secret")
    assert "LOGIN" not in imap.commands


def test_its_timeout_bounds_the_whole_check_not_each_reply(scripted) -> None:
    # every reply comes 0.4 s late (CAPABILITY, then the login): each within the 0.7 s
    # timeout, both together not
    imap = scripted("IMAP4rev1 AUTH=PLAIN", delay=0.4)
    started = time.monotonic()
    with pytest.raises(MailServerUnavailable):
        check_imap_password(server_at("127.0.0.1", imap.port, timeout=0.7), "alice", "secret")
    assert time.monotonic() - started < 1.2
    slow_but_in_time = scripted("IMAP4rev1 AUTH=PLAIN", delay=0.2)
    assert (
        check_imap_password(server_at("127.0.0.1", slow_but_in_time.port, timeout=1.5), "alice", "x") is True
    )
