"""The parser against every line of the public corpus, by its (heuristic) label."""

from __future__ import annotations

import csv
import zoneinfo
from datetime import datetime

import pytest

from ingest.event import Event, Malformed
from ingest.parse import Parser
from tests.conftest import CORPUS

UTC = zoneinfo.ZoneInfo("UTC")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MALFORMED = "malformed"

# label → (protocol or None for any, kind); None: no event
LABELS: dict[str, tuple[str | None, str] | None] = {
    "imap_login": ("imap", "login"),
    "pop3_login": ("pop3", "login"),
    "imap_logout": ("imap", "logout"),
    "pop3_logout": ("pop3", "logout"),
    "auth_fail": (None, "auth_fail"),
    "msg_expunge": (None, "message_delete"),
    "msg_delete": (None, "flag_delete"),
    "not_dovecot_noise": None,
    "other_dovecot": None,
}

# Lines where the parser's answer differs from the label, each with its reason (also in
# docs/parser.md). The labels come from a heuristic classifier; where it is wrong, or where
# the line cannot be read (a wrapper we do not support, publisher damage), the parser is
# not bent: the expected answer is written here instead.
EXCEPTIONS: list[tuple[str, tuple[str, str] | str | None]] = [
    # PAM's own line (pam_unix), not written by Dovecot
    (
        "@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=web rhost=176.61.140.224",
        None,
    ),
    # plaintext refused before any credentials were checked, and no user: not a failed sign-in
    (
        "Dec 12 11:19:11 dunnart dovecot: pop3-login: Aborted login (tried to use disabled plaintext auth): rip=190.210.136.21, lip=113.212.99.193",
        None,
    ),
    # plaintext refused before any credentials were checked, and no user: not a failed sign-in
    (
        "Dec 12 11:19:11 dunnart dovecot: pop3-login: Aborted login (tried to use disallowed plaintext auth): rip=190.210.136.21, lip=113.212.99.193, session=<LgDINsQCkttVIMPg>",
        None,
    ),
    # no user element: a failure nobody can be attributed
    (
        "Jun 14 00:48:21 platypus dovecot: imap-login: Disconnected (auth failed, 1 attempts): method=PLAIN, rip=59.167.242.100, lip=113.212.99.194, TLS: Disconnected",
        None,
    ),
    # PAM's own line (pam_unix), not written by Dovecot
    (
        "Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=informix rhost=80.255.3.104",
        None,
    ),
    # no timestamp: Logwatch digest (header stripped, ': 1 Time(s)' appended)
    (
        "dovecot: imap(me@waleedkhan.name): expunge: box=INBOX, uid=101, msgid=<1249814308.228946.1422670382174.JavaMail.s605113@s605113nj3cu23.uspswy6.savv..., size=5784: 1 Time(s)",
        None,
    ),
    # no timestamp: Logwatch digest (header stripped, ': 1 Time(s)' appended)
    (
        "dovecot: imap(me@waleedkhan.name): expunge: box=INBOX, uid=103, msgid=<87573488.39381.1422671386061.JavaMail.rcc@127.0.0.1>, size=8427: 1 Time(s)",
        None,
    ),
    # no timestamp: Logwatch digest (header stripped, ': 1 Time(s)' appended)
    (
        "dovecot: imap(me@waleedkhan.name): expunge: box=INBOX, uid=105, msgid=<1643814520.773962.1422671831522.JavaMail.app@ltx1-app10243.prod>, size=28350: 1 Time(s)",
        None,
    ),
    # no timestamp: Logwatch digest (header stripped, ': 1 Time(s)' appended)
    (
        "dovecot: imap(me@waleedkhan.name): expunge: box=INBOX, uid=106, msgid=<30128166.20150131023820.54cc401cc8ef84.75123093@mail149.wdc04.mandrillapp.com>, size=25278: 1 Time(s)",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Sep 22 02:05:00 mail dovecot: imap-login: Login: user=<user@test.ro>, method=PLAIN, rip=192.168.123, lip=192.168.1.3, pid=48597, TLS",
        MALFORMED,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Sep 22 04:05:19 mail dovecot: pop3-login: Login: user=<user@test.ro>, method=PLAIN, rip=192.168.123, lip=192.168.1.3, pid=52386, TLS",
        MALFORMED,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap-login: Aborted login (auth failed, 6 attempts): XYZ rip=6.6.6.0, lip=127.0.0.1",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap-login: Aborted login (auth failed, 6 attempts): XYZ rip=2001:db8::a11:beef:7ac0, lip=127.0.0.1",
        None,
    ),
    # user '?' (empty username): nobody to attribute it to
    (
        "Nov 15 16:00:55 c.imapd.sonic.net dovecot: auth: plain(?,127.0.0.1,<fGC5dZHOxwBFDN3x>): Empty username",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Oct 19 14:18:15 host dovecot: imap-login: Disconnected: method=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX..., rip=y.y.y.y, lip=y.y.y.y, TLS",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Oct 18 17:54:03 host dovecot: pop3-login: Login: user=<uuuuu>, method=PLAIN, rip=y.y.y.y, lip=x.x.x.x, TLS",
        MALFORMED,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Oct 21 19:58:22 host dovecot: pop3-login: Disconnected: method=PLAIN, rip=y.y.y.y, lip=x.x.x.x, TLS",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Oct 19 14:16:55 host dovecot: pop3-login: Aborted login (1 authentication attempts): user=<uuuuu>, method=PLAIN, rip=y.y.y.y, lip=x.x.x.x, TLS",
        MALFORMED,
    ),
    # no timestamp: the publisher stripped the syslog head
    ("imap(mail@example.com): Disconnected: Logged out bytes=512/1024", None),
    # no timestamp: the publisher stripped the syslog head
    (
        "pop3(mail@example.com): Disconnected: Logged out top=1/21, retr=2/42, del=3/23, size=16978739",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        'pop3-login: Login: user=<mail@example.com>, method=PLAIN, rip=10.11.12.13, lip=192.168.9.9, mpid=13559, ssl_security="TLSv1.3 with cipher DHE-RSA-AES256-SHA (256/256 bits)"',
        None,
    ),
    # no timestamp, and damaged (no passdb driver before the parenthesis)
    (
        "auth: Info:(test@domain.com,199.99.99.1,<5Ff/7Htd6QCpAM+Y>): invalid credentials",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Aug 01 19:53:13 Vps1 dovecot[8935]: managesieve-login: Aborted login (auth failed, 1 attempts in 19 secs): user=<me@example.com>, method=PLAIN, rip=111.147.**.109, lip=112.14.138.---, TLS, session=<7nJZQNar0nG8kyRt>",
        MALFORMED,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap(xxx@xxx.xxx)<974><UjBpKvbpZqAqAjAzBBw4DdEMVv0ZhPVC>: delete: box=Trash, uid=115, msgid=<emm_kotte-zeller-shop_newsletter_kotte_zeller_22092022@kotte-..., size=19484",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap(xxx@xxx.xxx)<974><UjBpKvbpZqAqAjAzBBw4DdEMVv0ZhPVC>: expunge: box=INBOX, uid=120, msgid=<emm_kotte-zeller-shop_newsletter_kotte_zeller_22092022@kotte-..., size=19484",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "dovecot: pop3-login: Aborted login: user=<username>, method=PLAIN, rip=192.168.1.254, lip=192.168.1.1",
        None,
    ),
    # plaintext refused, user=<>: not a failed sign-in
    (
        "Dec 20 22:05:28 pop3-login: Info: Login failed: Plaintext authentication disabled: user=<>, rip=198.27.127.44, lip=192.168.0.101, session=<0bf0hH99pMHGG38s>",
        None,
    ),
    # damaged by the wiki rendering: '<…>' stripped, no ip and no closing parenthesis
    (
        "Jan 11 03:42:09 email dovecot: auth(default): pam(, pam_authenticate() failed: User not known to the underlying authentication module",
        None,
    ),
    # damaged by the wiki rendering: '<…>' stripped, no ip and no closing parenthesis
    (
        "Jan 26 22:31:37 email dovecot: auth(default): pam(dan, pam_authenticate() failed: Authentication failure",
        None,
    ),
    # damaged by the wiki rendering: '<…>' stripped, no ip and no closing parenthesis
    (
        "Jan 11 03:45:09 email dovecot: auth-worker(default): sql(someoneelse, unknown user",
        None,
    ),
    # Virtualmin's service=…, user=…, ip=[…]. prefix, but the page's e-mail obfuscation ate `user=`
    (
        "Oct 31 21:07:26 s1 dovecot: service=imap, [email protected], ip=[::1]. Logged out rcvd=318, sent=2174",
        None,
    ),
    # rip anonymised by the publisher: not an address, kept as a bad line
    (
        "Dec 19 19:39:02 userdomain dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<usera@userdomain.com>, method=PLAIN, rip=xxx.xxx.67.84, lip=xxx.xxx.163.125, TLS: Disconnected, session=<ye1oKmV9ylyx5ENU>",
        MALFORMED,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap-login: Login: user=<dievad@orange.fr>, method=PLAIN, rip=116.50.216.85, lip=192.168.35.158, mpid=17461, TLS, session=<BLwHK1dNNgBaOv5C>",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "pop3(stgend@pouilly.fr): Disconnected: Logged out top=0/0, retr=0/0, del=0/271, size=170609999",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    (
        "imap-login: Disconnected (auth failed, 1 attempts in 5 secs): user=<office>, method=PLAIN, rip=24.98.64.90, lip=192.168.34.25, TLS, session=<ZkZtHU1NrLDeWoh9>",
        None,
    ),
    # no timestamp: the publisher stripped the syslog head
    ("auth: dict(info@sebjeuffrain.com,137.174.74.137): Password mismatch", None),
    # label wrong: a mail_log copy is an event (kind copy), not other_dovecot
    (
        "Jul 10 15:49:33 imap(ip@ncom-ufa.ru): Info: copy from INBOX: box=INBOX.office, uid=2374, msgid=<415077387.20140521143458@rbbf.ru>, size=117275",
        ("imap", "copy"),
    ),
    # damaged: month cut to 'ug', custom element order
    (
        "ug  4 01:30:31 serv01 dovecot: imap-login: user=<Msussman@marcsussman.com>, method=PLAIN, rip=69.193.200.186, lip=75.125.60.5 Disconnected: Shutting down (auth failed, 1 attempts)",
        None,
    ),
    # PAM's own line (pam_unix), not written by Dovecot
    ("Jun  6 16:26:32 postfix auth: pam_unix(dovecot:auth): check pass; user unknown", None),
    # PAM's own line (pam_unix), not written by Dovecot
    (
        "Jun  6 16:26:32 postfix auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=test@domain.com rhost=10.1.12.19",
        None,
    ),
]
EXPECTED_EXCEPTIONS = dict(EXCEPTIONS)


def _rows() -> list[tuple[int, str, str]]:
    with open(CORPUS, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["source_repo", "source_path", "event_kind", "line"]
    return [(n, row[2], row[3]) for n, row in enumerate(rows[1:], 2)]


ROWS = _rows()


def _answer(result: Event | Malformed | None) -> tuple[str, str] | str | None:
    if result is None:
        return None
    if type(result) is Malformed:
        return MALFORMED
    return (result.protocol, result.kind)


@pytest.mark.parametrize(("number", "label", "line"), ROWS, ids=[f"line{r[0]}" for r in ROWS])
def test_it_reads_each_corpus_line_as_labelled_or_as_listed(number: int, label: str, line: str) -> None:
    got = _answer(Parser(UTC, now=NOW).parse_line(line))
    if line in EXPECTED_EXCEPTIONS:
        assert got == EXPECTED_EXCEPTIONS[line], f"line {number}: {line}"
        return
    want = LABELS[label]
    if want is None:
        # not Dovecot, or Dovecot of no interest; a further kind (copy, …) is listed above
        assert got is None, f"line {number} ({label}) gave {got}: {line}"
    else:
        protocol, kind = want
        assert got is not None and got != MALFORMED, f"line {number} ({label}) gave {got}: {line}"
        assert got[1] == kind, f"line {number} ({label}) gave {got}: {line}"
        if protocol is not None:
            assert got[0] == protocol, f"line {number} ({label}) gave {got}: {line}"


def test_every_listed_exception_is_still_in_the_corpus() -> None:
    lines = {line for _, _, line in ROWS}
    assert [line for line, _ in EXCEPTIONS if line not in lines] == []


def test_the_corpus_is_mostly_read_as_labelled() -> None:
    # a guard against an exception list that grows to swallow the corpus
    assert len(EXCEPTIONS) < len(ROWS) * 0.2


def test_corpus_events_carry_what_their_line_says() -> None:
    for number, _, line in ROWS:
        event = Parser(UTC, now=NOW).parse_line(line)
        if type(event) is not Event:
            continue
        assert event.ts.tzinfo is not None, number
        assert event.account, number
        assert event.account in line, number
        if event.ip is not None:
            assert event.ip in line, number
        if event.session is not None:
            assert event.session in line, number
        if event.message_id:
            assert "msgid=" + event.message_id in line, number
        if event.mailbox is not None:
            assert event.mailbox in line, number
