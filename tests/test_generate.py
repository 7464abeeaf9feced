"""The log generator: realistic shape, ground truth, determinism, streaming, output files."""

from __future__ import annotations

import gzip
import importlib.util
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.generate import (
    EVENT_KINDS,
    STORY_ABROAD_IPS,
    STORY_OLD_PC_IP,
    STORY_PHONE_IP_HOURS,
    STORY_PHONE_IPS,
    generate_events,
    generate_lines,
    sanitize,
    write_log,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
END = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
SYSLOG = re.compile(r"^(\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d) mx1 (\S+?)(\[\d+\])?: ")
MAIL_PREFIX = re.compile(r" dovecot: (imap|pop3)\(([^)]*)\)<(\d+)><([A-Za-z0-9+/]{16,32})>: ")
LOGIN = re.compile(
    r" dovecot: (imap|pop3)-login: Login: user=<(.*)>, method=\w+, rip=([0-9a-f.:]+), "
    r"lip=[0-9a-f.:]+, mpid=(\d+), (?:TLS|secured), session=<([A-Za-z0-9+/]+)>$"
)


def events(lines: int = 20_000, **kw):
    kw.setdefault("days", 2)
    kw.setdefault("accounts", 100)
    kw.setdefault("seed", 7)
    kw.setdefault("end", END)
    kw.setdefault("tz", UTC)
    return list(generate_events(lines, **kw))


def test_it_gives_the_same_lines_for_the_same_seed_and_others_for_another():
    a = list(generate_lines(3000, 1, 50, 42, END, tz=UTC))
    b = list(generate_lines(3000, 1, 50, 42, END, tz=UTC))
    c = list(generate_lines(3000, 1, 50, 43, END, tz=UTC))
    assert a == b
    assert a != c


def test_it_yields_exactly_the_requested_number_of_lines():
    for n in (0, 1, 17, 5000):
        assert sum(1 for _ in generate_lines(n, 1, 20, 1, END, tz=UTC)) == n


def test_it_gives_the_same_lines_with_and_without_ground_truth():
    plain = list(generate_lines(4000, 2, 60, 5, END, tz=UTC))
    assert [line for line, _ in events(4000, accounts=60, seed=5)] == plain


def test_it_mixes_in_at_least_40_percent_postfix_noise():
    got = events()
    noise = [line for line, ev in got if " dovecot: " not in line]
    assert len(noise) >= 0.4 * len(got)
    assert all(ev is None for line, ev in got if " dovecot: " not in line)
    programs = Counter(SYSLOG.match(line).group(6) for line in noise)
    for program in ("postfix/smtpd", "postfix/cleanup", "postfix/qmgr", "postfix/lmtp", "amavis"):
        assert programs[program] > 0, program


def test_it_produces_every_event_kind_for_imap_and_the_pop3_ones():
    kinds = Counter((ev.protocol, ev.kind) for _, ev in events(30_000) if ev is not None)
    for kind in EVENT_KINDS:
        assert kinds["imap", kind] > 0, kind
    for kind in ("login", "logout", "auth_fail", "message_delete"):
        assert kinds["pop3", kind] > 0, kind


def test_it_writes_the_classic_syslog_shape_with_a_space_padded_day():
    end = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    lines = list(generate_lines(2000, 3, 30, 1, end, tz=UTC))
    assert all(SYSLOG.match(line) for line in lines)
    assert any(line.startswith("Dec  1 ") for line in lines)
    assert not any(" Info: " in line for line in lines)


def test_it_keeps_timestamps_in_order_and_none_after_the_end():
    got = events()
    stamps = [ev.ts for _, ev in got if ev is not None]
    assert stamps == sorted(stamps)
    assert stamps[0] >= END - timedelta(days=2, seconds=1)
    assert stamps[-1] <= END
    # the text of every line says the time of its event
    for line, ev in got:
        if ev is not None:
            assert line.startswith(ev.ts.strftime("%b %e %H:%M:%S mx1 ")), line


def test_it_crosses_from_december_to_january():
    end = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    lines = list(generate_lines(3000, 1, 30, 1, end, tz=UTC))
    assert lines[0].startswith("Dec 31 ")
    assert lines[-1].startswith("Jan  1 ")


def test_it_writes_local_time_in_the_zone_it_is_given():
    tokyo = timezone(timedelta(hours=9))
    (line, ev), *_ = [(line, ev) for line, ev in events(500, tz=tokyo) if ev is not None]
    assert ev.ts.utcoffset() == timedelta(hours=9)
    assert line.startswith(ev.ts.strftime("%b %e %H:%M:%S "))


def test_it_keeps_pid_and_session_consistent_from_login_to_logout():
    logins: dict[tuple[str, str], tuple[str, str, str]] = {}  # (pid, session) → proto, user, ip
    ended: set[tuple[str, str]] = set()
    mail_lines = 0
    for line, ev in events():
        if m := LOGIN.search(line):
            proto, user, ip, pid, sess = m.groups()
            assert (pid, sess) not in logins
            logins[pid, sess] = (proto, user, ip)
            assert ev.pid == int(pid) and ev.session == sess and ev.ip == ip
        elif m := MAIL_PREFIX.search(line):
            mail_lines += 1
            proto, user, pid, sess = m.groups()
            # the session's login came first, with the same service, user, mpid and session
            assert logins[pid, sess][:2] == (proto, user)
            assert (pid, sess) not in ended, "a line after its session's logout"
            if ": ID sent: " in line:
                assert ev is None  # folded into the session's rows, not a row of its own
                continue
            assert ev.ip == logins[pid, sess][2], "mail process events carry the login's ip"
            if ": Disconnected: " in line:
                ended.add((pid, sess))
    assert mail_lines > 1000


def test_it_makes_session_ids_of_16_characters_for_ipv4_and_32_for_ipv6():
    lengths = Counter()
    for _, ev in events():
        if ev is not None and ev.kind == "login":
            lengths[":" in ev.ip, len(ev.session)] += 1
    assert set(lengths) == {(False, 16), (True, 32)}
    sessions = "".join(ev.session for _, ev in events() if ev is not None and ev.session)
    assert "+" in sessions and "/" in sessions


def test_it_counts_pop3_deletions_as_the_expunge_lines_of_the_session():
    expunges: Counter[str] = Counter()
    checked = 0
    for line, ev in events(30_000):
        if ev is None or ev.protocol != "pop3":
            continue
        if ev.kind == "message_delete":
            assert ", size=" in line and "expunge: box=INBOX, uid=" in line
            expunges[ev.session] += 1
        elif ev.kind == "logout":
            m = re.search(r"del=(\d+)/(\d+), size=(\d+)$", line)
            assert m, line
            assert int(m[1]) == expunges[ev.session] == ev.deleted
            assert int(m[2]) == ev.messages and int(m[3]) == ev.size
            if "Connection closed" in line:
                assert ev.deleted == 0
            checked += int(ev.deleted > 0)
    assert checked > 10


def test_it_writes_imap_logouts_in_the_stock_2_3_format():
    pattern = re.compile(
        r": Disconnected: (Logged out|Connection closed( \(.*\))?) in=\d+ out=\d+ deleted=\d+ "
        r"expunged=\d+ trashed=\d+ hdr_count=\d+ hdr_bytes=\d+ body_count=\d+ body_bytes=\d+$"
    )
    logouts = [line for line, ev in events() if ev and ev.kind == "logout" and ev.protocol == "imap"]
    assert logouts and all(pattern.search(line) for line in logouts)


def test_it_includes_hostile_values_only_when_asked():
    hostile = "\n".join(generate_lines(60_000, 2, 100, 3, END, tz=UTC))
    assert "<script>" in hostile
    assert "msgid=<fake" in hostile or "msgid=<a,b=c, msgid=<fake@x>" in hostile
    tame = "\n".join(generate_lines(60_000, 2, 100, 3, END, tz=UTC, hostile=False))
    assert "<script>" not in tame and "fake" not in tame


def test_it_cuts_header_values_at_80_bytes_like_dovecot():
    assert sanitize("<short@x>", 80) == "<short@x>"
    cut = sanitize("<" + "a" * 100 + ">", 80)
    assert len(cut) == 80 and cut.endswith("...")
    utf8 = sanitize("<" + "€" * 40 + ">", 80)
    assert len(utf8.encode()) <= 80 and utf8.endswith("...")


def test_it_streams_without_holding_the_log_in_memory():
    def peak(n: int, days: float) -> int:
        tracemalloc.start()
        for _ in generate_lines(n, days, 200, 1, END, tz=UTC):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    # the same traffic per day for 12x as long: memory holds open sessions, not the log
    small, large = peak(5_000, 0.5), peak(60_000, 6)
    assert large < 2 * small, (small, large)


def test_it_writes_plain_and_gzip_files(tmp_path: Path):
    plain, packed = tmp_path / "mail.log", tmp_path / "mail.log.1.gz"
    assert write_log(plain, 1000, 1, 20, 9, END, tz=UTC) == 1000
    assert write_log(packed, 1000, 1, 20, 9, END, tz=UTC) == 1000
    text = plain.read_text()
    assert text.endswith("\n") and text.count("\n") == 1000
    assert gzip.decompress(packed.read_bytes()).decode() == text
    assert text.splitlines() == list(generate_lines(1000, 1, 20, 9, END, tz=UTC))


def test_the_generate_command_writes_the_requested_lines(tmp_path: Path):
    out = tmp_path / "gen.log.gz"
    subprocess.run(
        [sys.executable, "-m", "ingest", "generate", "--lines", "2500", "--days", "2",
         "--accounts", "30", "--seed", "4", "--output", str(out)],
        cwd=PROJECT_DIR, check=True, timeout=60,
    )  # fmt: skip
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert len(lines) == 2500
    assert any(" dovecot: imap-login: Login: " in line for line in lines)


def test_the_bundled_samples_are_what_the_generator_makes(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("make_samples", PROJECT_DIR / "samples" / "make_samples.py")
    make_samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_samples)
    current, rotated = make_samples.build()
    assert (PROJECT_DIR / "samples" / "mail.log").read_text() == current, "run samples/make_samples.py"
    assert gzip.decompress((PROJECT_DIR / "samples" / "mail.log.1.gz").read_bytes()) == rotated
    total = sum(p.stat().st_size for p in (PROJECT_DIR / "samples").iterdir())
    assert total < 1_000_000


@pytest.mark.parametrize(("auth_verbose", "seed"), [(False, 11), (True, 11), (False, 1), (False, 20)])
def test_the_parser_and_correlator_read_exactly_the_generated_ground_truth(auth_verbose: bool, seed: int):
    from ingest.clients import fold_client_ids
    from ingest.correlate import Correlator
    from ingest.event import Event
    from ingest.parse import Parser
    from ingest.sink import Batch

    parser, correlator = Parser(UTC, now=END), Correlator()
    want: Counter[tuple[str, str]] = Counter()
    got: Counter[tuple[str, str]] = Counter()
    batch, truths = Batch(start=0), {}
    for i, (line, truth) in enumerate(events(60_000, accounts=150, seed=seed, auth_verbose=auth_verbose)):
        event = parser.parse_line(line)
        if type(event) is Event:
            event = correlator.process(event)
            batch.events.append((*event, 0, i))
            truths[i] = line, truth
        else:
            assert truth is None, line
    fold_client_ids(batch)  # an IMAP ID line is folded into its session's rows
    assert len(truths) - len(batch.events) == batch.skipped > 1000
    for *fields, _, i in batch.events:
        event, (line, truth) = Event(*fields), truths.pop(i)
        got[event.protocol, event.kind] += 1
        if truth is not None:
            want[truth.protocol, truth.kind] += 1
            if truth.kind == "mailbox_rename" and " -> " in f"{truth.mailbox}{truth.mailbox_to}":
                # "Mailbox renamed: a -> b -> c" has two readings; the parser takes the first arrow
                assert (event.mailbox, event.mailbox_to) == tuple(
                    f"{truth.mailbox} -> {truth.mailbox_to}".split(" -> ", 1)
                )
                event = event._replace(mailbox=truth.mailbox, mailbox_to=truth.mailbox_to)
        assert event == truth, line  # every field, ip and client of the session's login included
    assert all(" ID sent: " in line and truth is None for line, truth in truths.values())
    assert got == want
    assert sum(want.values()) > 20_000
    assert (want["auth", "auth_fail"] > 100) is auth_verbose


def test_it_writes_rsyslogs_rfc3339_form_with_the_same_events():
    from ingest.event import Event
    from ingest.parse import Parser

    tokyo = timezone(timedelta(hours=9))
    lines = list(generate_lines(5000, 1, 50, 8, END, tz=tokyo, style="rfc3339"))
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+09:00 mx1 \S+: ")
    assert all(stamp.match(line) for line in lines)
    assert [line.split(" ", 1)[1] for line in lines] == [
        line.split(" ", 3)[3] for line, _ in events(5000, days=1, accounts=50, seed=8, tz=tokyo)
    ]
    parser = Parser(tokyo, now=END)
    got = Counter(
        (e.protocol, e.kind)
        for e in map(parser.parse_line, lines)
        if type(e) is Event and e.kind != "client_id"
    )
    want = Counter(
        (ev.protocol, ev.kind) for _, ev in events(5000, days=1, accounts=50, seed=8, tz=tokyo) if ev
    )
    assert got == want


def _alice(lines):
    return [line for line in lines if "alice@example.edu" in line]


def test_its_story_has_alices_old_pc_take_and_delete_her_mail_over_pop3_from_one_campus_address():
    got = events(20_000, days=1, accounts=60, story=True)
    alice = [ev for _line, ev in got if ev is not None and ev.account == "alice@example.edu"]
    pop3 = [ev for ev in alice if ev.protocol == "pop3" and ev.kind != "auth_fail"]
    logins = [ev for ev in pop3 if ev.kind == "login"]
    assert {ev.ip for ev in pop3} == {STORY_OLD_PC_IP}
    assert 130 <= len(logins) <= 150  # every ten minutes, day and night
    deleted = sum(ev.deleted for ev in pop3 if ev.kind == "logout")
    assert deleted > 10 and deleted == sum(1 for ev in pop3 if ev.kind == "message_delete")
    # her phone: IMAP from a carrier's NAT, another of a few addresses every few hours
    imap = [ev for ev in alice if ev.protocol == "imap" and ev.kind == "login"]
    phone_ips = {ev.ip for ev in imap}
    assert imap and all(ip.startswith("100.") for ip in phone_ips)
    assert len(phone_ips) <= min(24 // STORY_PHONE_IP_HOURS + 1, STORY_PHONE_IPS) < len(imap)
    # a few failed sign-ins from abroad, and nothing else of hers
    fails = [ev for ev in alice if ev.kind == "auth_fail"]
    assert fails and {ev.ip for ev in fails} <= set(STORY_ABROAD_IPS)
    assert {ev.kind for ev in alice} <= {"login", "logout", "message_delete", "copy", "auth_fail"}


def test_its_story_is_the_same_written_at_once_or_a_few_seconds_at_a_time():
    whole = _alice(generate_lines(50, days=2 / 24, accounts=20, seed=1, end=END, tz=UTC, story=True))
    pieces = []
    for i in range(240):  # two hours in 30-second appends, each with another seed
        end = END - timedelta(seconds=30 * (239 - i))
        pieces += _alice(generate_lines(3, days=30 / 86400, accounts=20, seed=i, end=end, tz=UTC, story=True))
    logins = re.compile(
        r"^(.{15}) mx1 dovecot: (pop3|imap)-login: Login: user=<alice@example.edu>.* rip=([^,]+),"
    )
    # the same sign-ins (an episode is appended with its end: its login may come a little late)
    assert sorted(m.groups() for m in map(logins.match, whole) if m) == sorted(
        m.groups() for m in map(logins.match, pieces) if m
    )
    assert any(STORY_OLD_PC_IP in line for line in whole)


def test_imap_clients_say_what_they_are_in_the_proportions_assumed():
    names: Counter = Counter()
    before = after = 0
    for line, ev in events():
        if ev is not None and ev.kind == "login":
            if ev.protocol == "pop3":
                assert ev.client_name is None  # POP3 has no ID
            elif ev.ip not in ("127.0.0.1", "::1"):
                names[ev.client_name] += 1
        if " ID sent: " in line:
            assert ev is None
            before += "imap-login: ID sent: " in line
            after += "imap-login" not in line
    total = sum(names.values())
    assert total > 300 and before > 50 and after > 50
    share = {name: n / total for name, n in names.items()}
    assert 0.25 < share["iPhone Mail"] < 0.5  # Apple's phones first
    assert 0.12 < share["Thunderbird"] < 0.3
    assert 0.12 < share[None] < 0.35  # Outlook, mutt and fetchmail send no ID
    assert {"K-9 Mail", "com.google.android.gm", "Evolution", "Mac OS X Mail"} <= set(share)


def test_a_device_keeps_its_client_and_the_same_seed_gives_the_same_ids():
    device: dict[tuple[str, str], str | None] = {}
    for _, ev in events():
        if ev is not None and ev.kind == "login" and ev.protocol == "imap":
            assert device.setdefault((ev.account, ev.ip), ev.client_name) == ev.client_name
    again = [line for line, _ in events() if " ID sent: " in line]
    assert again == [line for line, _ in events() if " ID sent: " in line] and again
