"""A real Dovecot 2.3 for tests: the `dovecot` fixture and clients that appear from any 127.0.0.x."""

from __future__ import annotations

import imaplib
import itertools
import os
import poplib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
HOST = "127.0.0.1"

# Synthetic mailboxes. The third name is hostile on purpose: Dovecot writes user names raw
# into `user=<…>` and `imap(…)`, so a parser must not be fooled by a `>`, a comma or text
# that imitates the fields after it. `auth_username_chars =` (below) lets Dovecot accept it;
# lower case because auth_username_format (%Lu) lowercases a name before the passdb lookup.
ALICE = "alice@example.edu"
BOB = "bob@example.edu"
MALLORY = "mallory>, method=plain, rip=6.6.6.6, x=<y@example.edu"
USERS = {
    ALICE: "alice-secret",
    BOB: "bob-secret",
    MALLORY: "mallory-secret",
}

# Everything that is not a path or a port. Login and logout formats stay at their defaults
# so the log is what a stock 2.3 server writes; only mail_log is switched on, as a site
# that wants deletions logged would (design.md, "Facts about this machine").
CONFIG = """\
# written by tests/dovecot_server.py for one test run
protocols = imap pop3
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailtrail-test-{instance}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# the stock 2 s per failed login only slows the tests; the lines are the same
auth_failure_delay = 0
# empty: accept any character in a user name (the default refuses MALLORY's)
auth_username_chars =
first_valid_uid = {uid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
plugin {{
  mail_log_events = delete undelete expunge copy mailbox_delete mailbox_rename
  mail_log_fields = uid box msgid size from
}}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
}}

protocol imap {{
  mail_plugins = $mail_plugins notify mail_log
}}
protocol pop3 {{
  mail_plugins = $mail_plugins notify mail_log
}}

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {host}
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _connect(host: str, port: int, timeout: float | None, source_ip: str) -> socket.socket:
    # every 127.0.0.0/8 address is local on Linux, so a client bound to 127.0.0.2 reaches
    # a server on 127.0.0.1 and Dovecot logs rip=127.0.0.2
    return socket.create_connection((host, port), timeout, source_address=(source_ip, 0))


class _FromSourceIP:
    """Mixin for imaplib/poplib clients: connect from self.source_ip instead of any address."""

    host: str
    port: int
    source_ip: str

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return _connect(self.host, self.port, timeout, self.source_ip)


class SourceIMAP4(_FromSourceIP, imaplib.IMAP4):
    """imaplib.IMAP4 whose connection comes from a chosen local address."""

    def __init__(self, host: str, port: int, source_ip: str, timeout: float = 10) -> None:
        self.source_ip = source_ip
        imaplib.IMAP4.__init__(self, host, port, timeout=timeout)

    def id(self, fields: bytes) -> str:
        """Send IMAP ID (RFC 2971) as a client says what it is: fields is the raw argument,
        `("name" "Thunderbird" …)` or `NIL`, UTF-8 and all. Returns the tagged answer."""
        # imaplib lacks ID; xatom("ID") (webui/accounts/backends.py) registers it for one state
        # only. RFC 2971 allows it in every state.
        imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
        typ, _ = self._simple_command("ID", fields)
        return typ


class SourcePOP3(_FromSourceIP, poplib.POP3):
    """poplib.POP3 whose connection comes from a chosen local address."""

    def __init__(self, host: str, port: int, source_ip: str, timeout: float = 10) -> None:
        self.source_ip = source_ip
        poplib.POP3.__init__(self, host, port, timeout=timeout)


def imap_quote(text: str) -> str:
    """An IMAP quoted string; imaplib quotes the password but sends the user name as is."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotServer:
    """One Dovecot master process with its own config, sockets, log file and maildirs."""

    def __init__(self, root: Path, users: dict[str, str] | None = None, settings: str = "") -> None:
        self.root = root
        self.settings = settings  # extra dovecot.conf lines, e.g. "auth_verbose = yes"
        self.host = HOST
        self.users = dict(USERS if users is None else users)
        self.config_path = root / "dovecot.conf"
        self.log_path = root / "dovecot.log"
        self.imap_port = 0
        self.pop3_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ips = itertools.count(1)
        # mail processes must not run as root; `nobody` exists on every Debian and is above
        # first_valid_uid, so no system user has to be created on a fresh machine
        account = pwd.getpwnam("nobody")
        self.uid, self.gid = account.pw_uid, account.pw_gid

    # --- life cycle -------------------------------------------------------------------

    def start(self, timeout: float = 10) -> None:
        if not os.path.exists(DOVECOT):
            raise RuntimeError(f"{DOVECOT} is missing: run scripts/install-system-deps")
        # the login (dovenull), auth (dovecot) and mail (nobody) users must traverse it
        self.root.chmod(0o755)
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        self._write_users()
        self.log_path.touch()
        # A free port can be taken by another test run before Dovecot binds it (several
        # engineers share this machine): then Dovecot exits, and we try other ports.
        for _ in range(3):
            if self._launch(timeout):
                return
            if "Address already in use" not in self.diagnostics():
                break
        raise RuntimeError(f"Dovecot did not start listening:\n{self.diagnostics()}")

    def _launch(self, timeout: float) -> bool:
        self.imap_port = free_port()
        self.pop3_port = free_port()
        while self.pop3_port == self.imap_port:
            self.pop3_port = free_port()
        self.config_path.write_text(
            CONFIG.format(
                host=self.host,
                root=self.root,
                instance=self.root.name,
                uid=self.uid,
                gid=self.gid,
                imap_port=self.imap_port,
                pop3_port=self.pop3_port,
            )
            + self.settings
        )
        stderr = open(self.root / "stderr.txt", "wb")  # the child keeps its own copy
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
        stderr.close()
        deadline = time.monotonic() + timeout
        for port in (self.imap_port, self.pop3_port):
            while not self._accepts(port):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    return False
                time.sleep(0.05)
        # a connection could have reached someone else's listener on a stolen port
        time.sleep(0.05)
        if self._process.poll() is not None:
            self.stop()
            return False
        return True

    def _write_users(self) -> None:
        users = self.root / "users"
        users.write_text("".join(f"{name}:{{PLAIN}}{pw}\n" for name, pw in self.users.items()))
        users.chmod(0o644)  # the auth process runs as the dovecot user

    def add_user(self, name: str, password: str) -> None:
        """A new mailbox; passwd-file notices the changed file at the next login."""
        if ":" in name or "\n" in name:
            raise ValueError(f"passwd-file cannot hold the user name {name!r}")
        self.users[name] = password
        self._write_users()
        # passwd-file looks at the file at most once per wall-clock second
        time.sleep(1.05 - time.time() % 1)

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 10) -> None:
        """Stop the master and its children; return once they are gone."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            # what `doveadm stop` does (SIGTERM to the master; the log says "Killed with
            # signal 15"), without its 3 s of polling for the pid to go away
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                # our own process group only (start_new_session): master and its children
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)

    def diagnostics(self) -> str:
        out = (self.root / "stderr.txt").read_text(errors="replace")
        return f"stderr:\n{out}\nlog:\n{self.read_log().decode(errors='replace')}"

    # --- mail ------------------------------------------------------------------------

    def deliver(self, user: str, message: bytes, folder: str = "INBOX") -> None:
        """Store a message with `doveadm save`: Dovecot writes the file, as the mail user.

        doveadm runs without mail_log (it is only on for imap and pop3), so deliveries add
        nothing to the log that the tests read.
        """
        done = subprocess.run(
            [DOVEADM, "-c", str(self.config_path), "save", "-u", user, "-m", folder],
            input=message,
            capture_output=True,
            timeout=10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"doveadm save -u {user!r} -m {folder!r}: {done.stderr!r}")

    def imap(self, user: str, password: str | None = None, source_ip: str = HOST) -> imaplib.IMAP4:
        """A logged-in IMAP connection from source_ip (the user's password by default)."""
        client = SourceIMAP4(self.host, self.imap_port, source_ip)
        try:
            client.login(imap_quote(user), self.users[user] if password is None else password)
        except BaseException:
            # hang up now, so the failure's log line comes at once and not at garbage collection
            client.shutdown()
            raise
        return client

    def pop3(self, user: str, password: str | None = None, source_ip: str = HOST) -> poplib.POP3:
        """A logged-in POP3 connection (USER/PASS) from source_ip."""
        client = SourcePOP3(self.host, self.pop3_port, source_ip)
        try:
            client.user(user)
            client.pass_(self.users[user] if password is None else password)
        except BaseException:
            client.close()
            raise
        return client

    def next_ip(self) -> str:
        """A loopback address no client of this server has used (127.1.0.1, 127.1.0.2, …).

        Dovecot's anvil delays authentication from an address that just failed (2 s, then
        more), so a test that logs in with a wrong password should come from a fresh one.
        """
        n = next(self._ips)
        return f"127.1.{n // 250}.{n % 250 + 1}"

    def imap_connection(self, source_ip: str = HOST) -> SourceIMAP4:
        """An IMAP connection that has not logged in yet."""
        return SourceIMAP4(self.host, self.imap_port, source_ip)

    def pop3_connection(self, source_ip: str = HOST) -> SourcePOP3:
        """A POP3 connection that has not logged in yet."""
        return SourcePOP3(self.host, self.pop3_port, source_ip)

    # --- the log ---------------------------------------------------------------------

    def mark(self) -> int:
        """The log's current size: pass it as `since` to read only what came after."""
        return self.log_path.stat().st_size

    def read_log(self, since: int = 0) -> bytes:
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read()

    def wait_for_log(
        self, substring: str | bytes, timeout: float = 5, since: int = 0, count: int = 1
    ) -> bytes:
        """Wait until the log after `since` holds `count` copies of substring; return it.

        Dovecot's log process writes lines a moment after the client saw the reply, so a
        test waits for the last line it expects before it reads the file.
        """
        needle = substring.encode() if isinstance(substring, str) else substring
        deadline = time.monotonic() + timeout
        while True:
            text = self.read_log(since)
            if text.count(needle) >= count:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count}× {needle!r} not in Dovecot's log after {timeout}s:\n"
                    + text.decode(errors="replace")
                )
            time.sleep(0.05)

    def save_log(self, dest: Path, since: int = 0) -> Path:
        """Copy the log after `since` to dest: one test's lines as a file to ingest."""
        dest.write_bytes(self.read_log(since))
        return dest


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT) and os.path.exists(DOVEADM) and os.geteuid() == 0


@contextmanager
def running_dovecot(users: dict[str, str] | None = None, settings: str = "") -> Iterator[DovecotServer]:
    """Start a fresh Dovecot; stop it and remove its files on the way out."""
    if not dovecot_available():
        pytest.fail(
            "the Dovecot tests need root and Debian's dovecot-imapd and dovecot-pop3d: "
            "run scripts/install-system-deps as root"
        )
    # under /tmp, not pytest's tmp_path: its parents are 0700 and the dovenull, dovecot and
    # nobody users must reach their sockets and maildirs
    root = Path(tempfile.mkdtemp(prefix="mailtrail-dovecot-"))
    server = DovecotServer(root, users, settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A real Dovecot shared by the whole test session.

    Take `dovecot.mark()` first and read the log `since` that mark; give each failed login
    its own `dovecot.next_ip()` (anvil delays repeated failures from one address).
    """
    with running_dovecot() as server:
        yield server
