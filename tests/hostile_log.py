"""A generated mail log in which valid Dovecot lines are interleaved with every kind of hostile line.

Used by tests/test_hostile_log.py and bench/hostile.py. Every line's fate is known in advance:
`HostileLog.valid` holds the session id of each valid login (stored exactly once, as an event),
`HostileLog.hostile` the byte offset of each hostile line (kept in bad_line), and
`HostileLog.repaired` the offsets of lines that are events AND keep their raw bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path


@dataclass
class HostileLog:
    path: Path
    valid: list[str] = field(default_factory=list)  # session ids of valid logins
    hostile: dict[int, str] = field(default_factory=dict)  # offset → kind of hostile line
    repaired: dict[int, str] = field(default_factory=dict)  # offset → session of a repaired login
    lines: int = 0
    size: int = 0


def rsyslog(ts: datetime, msg: bytes, host: bytes = b"mx1") -> bytes:
    """A line as Debian's rsyslog writes it (RFC 3339 time, host, tag)."""
    return ts.isoformat(timespec="microseconds").encode() + b" " + host + b" dovecot: " + msg


def login(ts: datetime, session: str, user: bytes = b"alice@example.edu", n: int = 0) -> bytes:
    return rsyslog(
        ts,
        b"imap-login: Login: user=<" + user + b">, method=PLAIN, rip=192.0.2."
        + str(n % 250 + 1).encode() + b", lip=192.0.2.254, mpid=" + str(1000 + n % 30000).encode()
        + b", TLS, session=<" + session.encode() + b">",
    )  # fmt: skip


def auth_fail(ts: datetime, user: bytes, session: str) -> bytes:
    return rsyslog(
        ts,
        b"imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<" + user
        + b">, method=PLAIN, rip=203.0.113.4, lip=192.0.2.1, session=<" + session.encode() + b">",
    )  # fmt: skip


def write_hostile_log(
    path: Path,
    *,
    valid: int = 20_000,
    random_bytes: int = 20 * 1024 * 1024,
    latin1: int = 20_000,
    seed: int = 8,
    now: datetime | None = None,
    odd: bool = True,
) -> HostileLog:
    """Write the log; valid logins are dated in the hour before `now`, one per millisecond.
    With odd=False, only the random bytes and Latin-1 lines are hostile (a log of only valid
    lines when both are 0): no long or NUL names, impossible years, clock jump or 70 KiB line."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    t0 = now - timedelta(hours=1)
    log = HostileLog(path)
    path.write_bytes(b"")
    out: list[bytes] = []
    offset = 0

    def put(line: bytes, kind: str | None = None, repaired_session: str | None = None) -> None:
        nonlocal offset
        if kind is not None:
            log.hostile[offset] = kind
        if repaired_session is not None:
            log.repaired[offset] = repaired_session
        out.append(line + b"\n")
        offset += len(line) + 1

    # the hostile lines, each a (kind, line) or a random blob, spread among the valid ones
    hostile: list[tuple[str, bytes]] = []
    for i in range(latin1):
        ts = t0 + timedelta(milliseconds=i)
        if i % 2:
            # a Latin-1 name in a failed login: parsed with U+FFFD, stored, raw bytes kept
            hostile.append(
                ("latin1-login", auth_fail(ts, f"j\xf6rg{i}@example.edu".encode("latin-1"), f"L{i:015d}"))
            )
        else:
            hostile.append(("latin1", b"Dec  5 10:00:00 mx1 postfix/smtpd[99]: connect from h\xe9te.example"))
    for i in range(5 if odd else 0):
        ts = t0 + timedelta(seconds=i)
        hostile.append(("long-user", auth_fail(ts, b"b" * 4000, f"X{i:015d}")))
        hostile.append(("nul-user", auth_fail(ts, b"alice@example.edu\x00" + b"x" * i, f"N{i:015d}")))
        hostile.append(("nul-login", login(ts, f"Z{i:015d}", user=b"alice\x00@example.edu")))
    years = ((1, "+00:00"), (1, "+08:00"), (1970, "+00:00"), (9999, "+00:00"), (9999, "-05:00"))
    for year, zone in years if odd else ():
        stamp = f"{year:04d}-01-01T00:00:00.000000{zone}".encode()
        hostile.append((f"year-{year}", stamp + b" mx1 dovecot: imap-login: Login: user=<alice@example.edu>, "
                        b"method=PLAIN, rip=192.0.2.9, lip=192.0.2.254, mpid=9, session=<Y" + stamp[:15] + b">"))  # fmt: skip
    for i in range(20 if odd else 0):  # a clock that jumped three days ahead, then came back
        hostile.append(("clock-jump", login(now + timedelta(days=3, seconds=i), f"J{i:015d}")))
    if odd:
        hostile.append(("overlong", b"x" * (70 * 1024)))
    rng.shuffle(hostile)

    blobs = 8  # the random bytes come in a few blobs, each split into lines that are never UTF-8
    blob_at = {rng.randrange(valid) for _ in range(blobs)}
    slots: dict[int, list[tuple[str, bytes]]] = {}
    for item in hostile:
        slots.setdefault(rng.randrange(valid), []).append(item)
    for n in range(valid):
        session = f"V{n:015d}"
        put(login(t0 + timedelta(milliseconds=n), session, n=n))
        log.valid.append(session)
        for kind, line in slots.get(n, ()):
            if kind == "latin1-login":
                session = line.rsplit(b"session=<", 1)[1][:-1].decode()
                put(line, kind, session)
            else:
                put(line, kind)
        if n in blob_at and random_bytes:
            for chunk in rng.randbytes(random_bytes // len(blob_at)).split(b"\n"):
                put(b"\xff" + chunk, "random")
        if len(out) > 10_000:
            with open(path, "ab") as fh:
                fh.writelines(out)
            out.clear()
    with open(path, "ab") as fh:
        fh.writelines(out)
    log.lines = len(log.valid) + len(log.hostile)
    log.size = offset
    # repaired lines are events too
    log.valid.extend(log.repaired.values())
    return log
