"""Log timestamps to aware datetimes: syslog's yearless local time, ISO 8601, TAI64N."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

# Month names as syslog, Dovecot and journald write them. journald's short view uses the
# locale's abbreviations (`févr.`, `дек`), so a few common locales are known too; keys are
# lower case without the trailing dot.
MONTHS: dict[str, int] = {}
for _names in (
    "jan feb mar apr may jun jul aug sep oct nov dec",  # C / English
    "janv févr mars avr mai juin juil août sept oct nov déc",  # French
    "jan feb mär apr mai jun jul aug sep okt nov dez",  # German
    "ene feb mar abr may jun jul ago sept oct nov dic",  # Spanish
    "gen feb mar apr mag giu lug ago set ott nov dic",  # Italian
    "янв фев мар апр мая июн июл авг сен окт ноя дек",  # Russian (genitive, as journald)
):
    for _i, _name in enumerate(_names.split(), 1):
        MONTHS.setdefault(_name, _i)
MONTHS.update({"sep": 9, "sept": 9, "май": 5, "fév": 2, "déc": 12, "dec": 12, "mrz": 3})

ONE_DAY = timedelta(days=1)
_TAI64_EPOCH = 2**62 + 10  # TAI64 label of 1970-01-01 00:00:00 TAI; TAI ran 10 s ahead then
_SECONDS = {f"{s:02}": timedelta(seconds=s) for s in range(60)}  # "07" → 7 s
_CACHE_MAX = 4_096  # timestamps only move forward: a small cache hits as often as a big one


class Clock:
    """Turns the timestamps of one log into aware datetimes, remembering the year.

    Syslog and Dovecot's own log file write local time without a year (design.md, "Time"):
    the first yearless line gets `year`, or else the year that keeps it out of the future
    (more than a day after `now`); a month that goes back by more than half a year (December
    → January) is the next year, one that jumps forward as much is the year before (a line
    written out of order just after midnight on New Year's Eve).
    """

    def __init__(self, tz: tzinfo, year: int | None = None, now: datetime | None = None) -> None:
        self.tz = tz
        self.year = year
        self.month: int | None = None
        self._infer = year is None  # only an inferred year is kept out of the future
        self._now = now  # None: the wall clock, read again when a line seems to be in the future
        self._horizon = (now or datetime.now(tz)) + ONE_DAY
        # "Nov 27 06:14:15" → (month, datetime in self.year); a busy log repeats each second
        self._cache: dict[str, tuple[int, datetime]] = {}
        self._minutes: dict[str, tuple[int, datetime]] = {}  # "Nov 27 06:14" → second 0
        self._dates: dict[str, tuple[int, int]] = {}

    def restore(self, year: int | None, month: int | None) -> None:
        self.year = year
        self.month = month if year is not None else None
        self._infer = year is None
        self._cache.clear()
        self._minutes.clear()

    def yearless(self, stamp: str) -> datetime | None:
        """`Nov 27 06:14:15` (day space-padded or not, localized month) → datetime or None."""
        hit = self._cache.get(stamp)
        if hit is not None and hit[0] == self.month:
            return hit[1]
        # a quiet log has a new second on every line, but the same minute
        hit = self._minutes.get(stamp[:-3])
        if hit is not None and hit[0] == self.month:
            seconds = _SECONDS.get(stamp[-2:])
            if seconds is not None:
                dt = hit[1] + seconds  # the same wall time, tzinfo and fold as .replace(second=…)
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[stamp] = (hit[0], dt)
                return dt
        # the month and day of "Nov 27", "Nov  7", "févr. 25": few, so looked up once each
        date = self._dates.get(stamp[:-9])
        if date is None:
            parts = stamp[:-9].split()
            month = MONTHS.get(parts[0].rstrip(".").lower()) if len(parts) == 2 else None
            if month is None or not parts[1].isdigit():
                return None
            date = self._dates[stamp[:-9]] = (month, int(parts[1]))
        month, day = date
        hms = stamp[-8:]
        if not (hms[2] == ":" and hms[5] == ":" and hms.replace(":", "").isdigit()):
            return None
        hour, minute, second = int(hms[:2]), int(hms[3:5]), int(hms[6:])
        year = self.year
        if month != self.month or year is None:
            year = self._step(month, day, hour, minute, second)
        dt = _make(year, month, day, hour, minute, second, self.tz)
        if dt is None:
            return None
        if self._infer and dt > self._horizon:
            if self._now is None:
                self._horizon = datetime.now(self.tz) + ONE_DAY
            if dt > self._horizon:
                # in the future: a line of last year met after this year's (out of order);
                # this line only — the year of the lines around it stays
                return _make(year - 1, month, day, hour, minute, second, self.tz)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
            self._minutes.clear()
        self._cache[stamp] = (month, dt)
        self._minutes[stamp[:-3]] = (month, dt.replace(second=0))
        return dt

    def _step(self, month: int, day: int, hour: int, minute: int, second: int) -> int:
        """The year of a line whose month differs from the last one's; updates the state."""
        year = self.year
        if year is None:
            now = self._now or datetime.now(self.tz)
            year = now.year
            first = _make(year, month, day, hour, minute, second, self.tz)
            if first is not None and first > now + ONE_DAY:
                year -= 1
        elif self.month is not None:
            if month + 6 < self.month:
                year += 1
            elif month > self.month + 6:
                year -= 1
        if year != self.year:
            self._cache.clear()
            self._minutes.clear()
        self.year, self.month = year, month
        return year

    def iso(self, stamp: str) -> datetime | None:
        """ISO 8601 (`2026-11-27T06:14:15.003010+00:00`, `2013-08-11 03:56:40`): offset as
        written, or this clock's zone when there is none."""
        try:
            dt = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        return dt


def _make(year: int, month: int, day: int, h: int, m: int, s: int, tz: tzinfo) -> datetime | None:
    try:
        return datetime(year, month, day, h, m, s, tzinfo=tz)
    except ValueError:  # Feb 30, 25:00:00, Feb 29 of a common year
        return None


def tai64n(label: str) -> datetime | None:
    """daemontools' `@400000004c91b044077a9e94` (TAI64N, hex) → aware UTC datetime.

    Leap seconds after 1972 are ignored, as tai64nlocal does without a leap-second table.
    """
    try:
        secs = int(label[1:17], 16) - _TAI64_EPOCH
        nanos = int(label[17:25], 16)
        return datetime.fromtimestamp(secs, UTC).replace(microsecond=nanos // 1000)
    except (ValueError, OverflowError, OSError):
        return None
