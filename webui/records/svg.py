"""A server-drawn SVG timeline of the period's sessions, one line per IP.

Everything from a log is escaped (and its invisible characters shown, display.visible) before
it enters the document; the picture uses
presentation attributes only (no style, no script), so it passes any CSP.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext

from webui.records.display import visible
from webui.records.queries import Session
from webui.records.types import BY_KEY

WIDTH = 760
LABEL = 170  # left column for the IP
LANE = 18
KEY = 20  # the key's row, above the hours
TOP = 24 + KEY
# the legend's colours (webui/records/types.py): a session is its login's type
COLOURS = {"imap": BY_KEY["imap-login"].colour, "pop3": BY_KEY["pop3-login"].colour}
OTHER_COLOUR = BY_KEY["other"].colour
FAILED_COLOUR = BY_KEY["auth-fail"].colour


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    span = end - start
    if span <= timedelta(days=1, hours=1):
        step, fmt = timedelta(hours=3), "%H:%M"
    elif span <= timedelta(days=8):
        step, fmt = timedelta(days=1), "%m-%d"
    else:
        step, fmt = timedelta(days=7), "%m-%d"
    out = []
    moment = timezone.localtime(start)
    while moment < end:
        out.append((moment, moment.strftime(fmt)))
        moment = timezone.localtime(moment + step)
    return out


def _key() -> list[str]:
    """What each colour of a bar means, in one row at the top."""
    entries = (
        (COLOURS["imap"], gettext("IMAP session")),
        (COLOURS["pop3"], gettext("POP3 session")),
        (FAILED_COLOUR, gettext("failed sign-in")),
        (OTHER_COLOUR, gettext("other")),
    )
    out, x = [], 4.0
    for colour, label in entries:
        out.append(f'<rect x="{x:.0f}" y="4" width="12" height="12" rx="2" fill="{colour}"/>')
        out.append(f'<text x="{x + 16:.0f}" y="14" fill="#1a202c">{escape(label)}</text>')
        # a CJK character is about as wide as the font is tall, a Latin one about half
        x += 16 + sum(11 if ord(ch) > 0x2E80 else 6.5 for ch in label) + 18
    return out


def timeline(spans: list[Session], start: datetime, end: datetime, title: str) -> str:
    ips: list[str] = []
    for s in spans:
        if s.ip not in ips:
            ips.append(s.ip)
    height = TOP + LANE * max(len(ips), 1) + 8
    total = (end - start).total_seconds()
    plot = WIDTH - LABEL - 10

    def x(moment: datetime) -> float:
        return LABEL + plot * min(max((moment - start).total_seconds() / total, 0.0), 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(visible(title))}</title>",
    ]
    parts.extend(_key())
    for moment, label in _ticks(start, end):
        px = x(moment)
        parts.append(f'<line x1="{px:.1f}" y1="{TOP - 6}" x2="{px:.1f}" y2="{height - 4}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{px + 2:.1f}" y="{TOP - 10}" fill="#4a5568">{escape(label)}</text>')
    lane = {ip: i for i, ip in enumerate(ips)}
    for ip, i in lane.items():
        y = TOP + LANE * i
        parts.append(f'<text x="4" y="{y + 12}" fill="#1a202c">{escape(ip)}</text>')
    for s in spans:
        y = TOP + LANE * lane[s.ip] + 3
        x1 = x(s.start)
        width = max(x(s.end) - x1, 3.0)
        colour = FAILED_COLOUR if s.failed else COLOURS.get(s.protocol, OTHER_COLOUR)
        when = f"{timezone.localtime(s.start):%H:%M:%S}–{timezone.localtime(s.end):%H:%M:%S}"
        parts.append(
            f'<rect x="{x1:.1f}" y="{y}" width="{width:.1f}" height="{LANE - 6}" rx="2" fill="{colour}">'
            f"<title>{escape(s.ip)} {escape(s.protocol)} {escape(when)}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
