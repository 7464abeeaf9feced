"""Finding the files to follow: patterns, rotated siblings, cheap identity checks, and wake-ups."""

from __future__ import annotations

import glob
import os
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from mailtrail.env import ConfigError

# What logrotate and rsyslog append to a rotated log's name: `.1`, `.1.gz`, `-20261127`,
# `-2026112703`, `-2026-11-27`, each optionally compressed (gzip, xz, bzip2, zstd). A name with such a suffix is a
# rotated copy; a name without one is where the writer writes now (the "live" file).
_ROTATED_SUFFIX = re.compile(
    r"(?:\.[0-9]+|-[0-9]{8,10}|-[0-9]{4}-[0-9]{2}-[0-9]{2})(?:\.(?:gz|xz|bz2|zst))?$|\.(?:gz|xz|bz2|zst)$"
)


def looks_rotated(path: str) -> bool:
    return _ROTATED_SUFFIX.search(os.path.basename(path)) is not None


@dataclass(frozen=True, slots=True)
class Pattern:
    """One followed path or glob, and the mail host its lines come from ("" = from the line)."""

    glob: str
    host: str = ""

    @property
    def is_glob(self) -> bool:
        return glob.has_magic(self.glob)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file that may hold lines to read: found by a pattern, live or a rotated copy."""

    path: str
    pattern: Pattern
    live: bool  # the writer's current file (not a rotated copy)
    matched: bool  # matched by the pattern itself (not only a sibling of a match)


def parse_patterns(entries: Iterable[str], default_host: str = "") -> list[Pattern]:
    """Patterns from `[HOST=]PATH|GLOB` entries (arguments or MAILTRAIL_FOLLOW).

    `mx1=/var/log/mx1/mail.log` says every line of that file comes from mail host mx1, for
    Dovecot's own log files, which name no host. Without `HOST=`, --host applies, and a
    syslog line's own host field wins over both (the parser's rule).
    """
    out: list[Pattern] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        host, sep, path = entry.partition("=")
        if not sep or "/" in host or not host:
            host, path = default_host, entry
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", host or "x"):
            raise ConfigError(f"MAILTRAIL_FOLLOW: {host!r} is not a host name (in {entry!r})")
        out.append(Pattern(os.path.abspath(os.path.expanduser(path)), host))
    return out


def discover(patterns: Iterable[Pattern]) -> list[Candidate]:
    """Every file the patterns match, plus the rotated siblings of each match.

    A plain path `mail.log` also brings `mail.log.1`, `mail.log.2.gz`, `mail.log-20261127`:
    the follower needs them to finish a file that was rotated before it read to its end.
    Whether a sibling is read at all is the follower's decision (by fingerprint).
    """
    found: dict[str, Candidate] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern.glob)) if pattern.is_glob else [pattern.glob]
        bases: set[str] = set()
        for path in matches:
            if not os.path.isfile(path):
                if not pattern.is_glob:
                    bases.add(path)  # rotated away just now: its siblings still count
                continue
            live = not looks_rotated(path)
            found.setdefault(path, Candidate(path, pattern, live, True))
            if live:
                bases.add(path)
        for base in bases:
            for path in _siblings(base):
                found.setdefault(path, Candidate(path, pattern, False, False))
    return list(found.values())


def _siblings(base: str) -> list[str]:
    directory, name = os.path.split(base)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    out = []
    for other in names:
        if other.startswith(name) and len(other) > len(name):
            rest = other[len(name) :]
            if _ROTATED_SUFFIX.fullmatch(rest) or _ROTATED_SUFFIX.fullmatch(rest.lstrip(".")):
                path = os.path.join(directory, other)
                if os.path.isfile(path):
                    out.append(path)
    return sorted(out)


def belongs_to(pattern: Pattern, path: str) -> bool:
    """True when a path (e.g. of a source row) is one of this pattern's files or siblings."""
    from fnmatch import fnmatchcase

    if pattern.is_glob:
        if fnmatchcase(path, pattern.glob):
            return True
        return looks_rotated(path) and any(
            fnmatchcase(path[: m.start()], pattern.glob) for m in _ROTATED_SUFFIX.finditer(path)
        )
    if path == pattern.glob:
        return True
    if path.startswith(pattern.glob):
        rest = path[len(pattern.glob) :]
        return _ROTATED_SUFFIX.fullmatch(rest) is not None
    return False


def gzip_isize(path: str) -> int | None:
    """The uncompressed size (mod 2**32) a gzip file's trailer records, without decompressing.

    logrotate writes one gzip member per file, so this tells whether a compressed copy was
    read to its end by comparing it with the checkpoint — cheap enough for every scan.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            tail = fh.read(4)
    except OSError:
        return None
    if len(tail) != 4:
        return None
    return int.from_bytes(tail, "little")


def name_prefixes(patterns: Iterable[Pattern]) -> list[str]:
    """The fixed start of each followed file name (`mail.log` of `mail.log*`); "" matches all."""
    out = set()
    for pattern in patterns:
        name = os.path.basename(pattern.glob)
        cut = min((i for i, ch in enumerate(name) if ch in "*?["), default=len(name))
        out.add(name[:cut])
    return sorted(out)


def directories(patterns: Iterable[Pattern]) -> list[str]:
    """The directories to watch: rotation creates and renames files beside the ones followed."""
    dirs = set()
    for pattern in patterns:
        parent = os.path.dirname(pattern.glob)
        if glob.has_magic(parent):
            dirs.update(os.path.dirname(p) for p in glob.glob(pattern.glob))
        else:
            dirs.add(parent)
    return sorted(d for d in dirs if os.path.isdir(d))


class Waker:
    """Wakes the follower when a watched directory changes; the loop polls anyway.

    inotify (through watchdog) gives a line's arrival within milliseconds on local disks.
    It never fires for writes made on another NFS client, and its watch can fail (limits,
    a directory that does not exist yet), so the follower also looks every poll interval:
    a lost or missing event only costs latency, never a line.
    """

    def __init__(self, dirs: list[str], use_inotify: bool, log, prefixes: Iterable[str] = ("",)) -> None:
        self.event = threading.Event()
        self.rescan = threading.Event()
        self._observer = None
        if not use_inotify:
            return
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:  # pragma: no cover - watchdog is a dependency
            log("watchdog is not installed; polling")
            return
        waker = self
        # /var/log is busy with other logs: only names that could be ours wake the follower
        starts = tuple(prefixes)

        def ours(path: object) -> bool:
            name = os.path.basename(os.fsdecode(path)) if path else ""
            return name.startswith(starts)

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001 - watchdog's type
                if not ours(event.src_path) and not ours(getattr(event, "dest_path", "")):
                    return
                if event.event_type in ("created", "deleted", "moved"):
                    waker.rescan.set()
                if event.event_type not in ("opened", "closed_no_write"):
                    waker.event.set()

        observer = Observer()
        watched = 0
        for d in dirs:
            try:
                observer.schedule(Handler(), d, recursive=False)
                watched += 1
            except OSError as exc:
                log(f"{d}: cannot watch ({exc.strerror or exc}); polling it")
        if watched:
            try:
                observer.start()
            except OSError as exc:
                log(f"inotify unavailable ({exc.strerror or exc}); polling")
                return
            self._observer = observer

    @property
    def inotify(self) -> bool:
        return self._observer is not None

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke

    def poke(self) -> None:
        self.event.set()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None


def debug(msg: str) -> None:
    """A diagnostic line, shown when MAILTRAIL_FOLLOW_DEBUG is set."""
    if os.environ.get("MAILTRAIL_FOLLOW_DEBUG"):
        print(f"follow[debug]: {msg}", file=sys.stderr, flush=True)
