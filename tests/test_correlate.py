"""The correlate stage: logout and mail_log events take the IP of their session's login."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from ingest.correlate import Correlator
from ingest.event import Event
from ingest.parse import Parser

TZ = zoneinfo.ZoneInfo("Europe/Berlin")
T = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)


def login(host: str, account: str, ip: str, session: str | None, pid: int | None) -> Event:
    return Event(T, host, "imap", "login", account, ip, session, pid)


def later(kind: str, host: str, account: str, session: str | None, pid: int | None, **kw) -> Event:
    return Event(T, host, "imap", kind, account, None, session, pid, **kw)


def test_it_gives_a_logout_and_an_expunge_the_ip_of_their_login_by_session() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100))
    expunge = c.process(later("message_delete", "mx1", "alice", "sessA", None, message_id="<m@x>"))
    logout = c.process(later("logout", "mx1", "alice", "sessA", None, reason="Logged out"))
    assert (expunge.ip, expunge.message_id) == ("203.0.113.5", "<m@x>")
    assert logout.ip == "203.0.113.5"


def test_it_joins_on_the_mail_process_pid_when_there_is_no_session() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", None, 4242))
    assert c.process(later("mailbox_delete", "mx1", "alice", None, 4242, mailbox="Old")).ip == "203.0.113.5"


def test_sessions_of_different_hosts_do_not_mix() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "same", 77))
    c.process(login("mx2", "bob", "198.51.100.9", "same", 77))
    assert c.process(later("logout", "mx2", "bob", "same", 77)).ip == "198.51.100.9"
    assert c.process(later("logout", "mx1", "alice", "same", 77)).ip == "203.0.113.5"
    assert c.process(later("logout", "mx3", "carol", "same", 77)).ip is None


def test_a_logout_ends_the_session() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100))
    c.process(later("logout", "mx1", "alice", "sessA", 100))
    assert len(c) == 0
    assert c.process(later("message_delete", "mx1", "alice", "sessA", 100)).ip is None


def test_an_ip_already_known_is_kept_and_failures_pass_through() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100))
    own = Event(T, "mx1", "imap", "logout", "alice", "192.0.2.1", "sessA", 100)
    assert c.process(own).ip == "192.0.2.1"
    fail = Event(T, "mx1", "imap", "auth_fail", "mallory", "6.6.6.6", "sessB")
    assert c.process(fail) is fail


def test_memory_stays_bounded_and_the_oldest_sessions_go_first() -> None:
    c = Correlator(max_sessions=100)
    for i in range(1000):
        c.process(login("mx1", f"u{i}", f"10.0.{i // 256}.{i % 256}", f"s{i}", i))
    assert len(c) <= 200
    assert c.process(later("logout", "mx1", "u999", "s999", 999)).ip == "10.0.3.231"
    assert c.process(later("logout", "mx1", "u0", "s0", 0)).ip is None
    assert c.unresolved(later("logout", "mx1", "u0", "s0", 0))


def test_a_session_in_use_survives_eviction() -> None:
    c = Correlator(max_sessions=3)
    c.process(login("mx1", "alice", "203.0.113.5", "long", None))
    for i in range(10):
        c.process(login("mx1", f"u{i}", "10.0.0.1", f"s{i}", None))
        c.process(later("flag_delete", "mx1", "alice", "long", None))  # alice keeps working
    assert c.process(later("logout", "mx1", "alice", "long", None)).ip == "203.0.113.5"


def test_parsed_real_lines_correlate_end_to_end() -> None:
    lines = [
        "Nov 27 07:56:24 pop3-login: Info: Login: user=<alice@example.edu>, method=PLAIN, "
        "rip=127.0.0.2, lip=127.0.0.1, mpid=13000, session=<9gWBZT1hdYd/AAAC>",
        "Nov 27 07:56:24 pop3(alice@example.edu)<13000><9gWBZT1hdYd/AAAC>: Info: expunge: "
        "box=INBOX, uid=3, msgid=<a@x>, size=157",
        "Nov 27 07:56:24 pop3(alice@example.edu)<13000><9gWBZT1hdYd/AAAC>: Info: Disconnected: "
        "Logged out top=0/0, retr=1/242, del=1/5, size=928",
    ]
    p, c = Parser(TZ, host="mx1"), Correlator()
    events = [c.process(p.parse_line(line)) for line in lines]
    assert [(e.kind, e.ip) for e in events] == [
        ("login", "127.0.0.2"),
        ("message_delete", "127.0.0.2"),
        ("logout", "127.0.0.2"),
    ]


def test_a_dovecot_22_line_without_pid_or_session_takes_the_accounts_only_ip() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100))
    c.process(login("mx1", "alice", "203.0.113.5", "sessB", 101))  # a second client, same PC
    assert c.process(later("message_delete", "mx1", "alice", None, None)).ip == "203.0.113.5"
    assert c.process(later("logout", "mx1", "alice", None, None)).ip == "203.0.113.5"
    assert c.process(later("logout", "mx1", "bob", None, None)).ip is None


def test_a_dovecot_22_line_gets_no_ip_when_the_account_is_open_from_two_computers() -> None:
    c = Correlator()
    c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100))
    c.process(login("mx1", "alice", "198.51.100.9", "sessB", 101))
    assert c.process(later("message_delete", "mx1", "alice", None, None)).ip is None
    # once the first session has ended (its logout named it), the other is the only one
    c.process(later("logout", "mx1", "alice", "sessA", 100))
    assert c.process(later("message_delete", "mx1", "alice", None, None)).ip == "198.51.100.9"


def test_parsed_dovecot_22_lines_correlate_on_the_account() -> None:
    lines = [
        "Apr 18 23:41:40 jessie dovecot: imap-login: Login: user=<user@domain.tld>, method=PLAIN, "
        "rip=192.0.2.44, lip=192.0.2.1, mpid=3012, TLS, session=<sF+SszFtrD5Q8TzB>",
        "Apr 18 23:41:45 jessie dovecot: imap(user@domain.tld): expunge: box=INBOX, uid=5, "
        "msgid=<a@x>, size=10",
        "Apr 18 23:41:48 jessie dovecot: imap(user@domain.tld): Disconnected: Logged out in=244 out=858",
    ]
    p, c = Parser(TZ), Correlator()
    assert [c.process(p.parse_line(line)).ip for line in lines] == ["192.0.2.44"] * 3


def said(host: str, session: str, name: str) -> Event:
    return Event(T, host, "imap", "client_id", "", "203.0.113.5", session, None, client_name=name)


def test_an_id_before_login_goes_to_the_login_and_its_session_until_the_logout() -> None:
    c = Correlator()
    c.process(said("mx1", "sessA", "iPhone Mail"))
    assert c.process(login("mx1", "alice", "203.0.113.5", "sessA", 100)).client_name == "iPhone Mail"
    assert c.process(later("message_delete", "mx1", "alice", "sessA", None)).client_name == "iPhone Mail"
    assert c.process(later("logout", "mx1", "alice", "sessA", None)).client_name == "iPhone Mail"
    assert c.process(login("mx1", "alice", "203.0.113.5", "sessA", 101)).client_name is None  # forgotten
    assert c.process(login("mx2", "alice", "203.0.113.5", "sessB", 102)).client_name is None


def test_remembered_clients_stay_bounded() -> None:
    c = Correlator(max_sessions=3)
    for n in range(10):  # IDs of connections that never signed in (scanners)
        c.process(said("mx1", f"s{n}", f"bot {n}"))
    assert len(c._clients) == 3
    assert c.process(login("mx1", "alice", "203.0.113.5", "s9", 1)).client_name == "bot 9"
    assert c.process(login("mx1", "alice", "203.0.113.5", "s0", 2)).client_name is None
