"""How a value from a log is shown: invisible characters made visible, overlong values cut.

Every value in a log line is attacker-written. Escaping keeps it from becoming markup; this
module keeps it from lying about what it says: a right-to-left override (U+202E) between
`invoice` and `gpj.exe-A` makes the value read "invoiceA-exe.jpg", a zero-width space makes two different
Message-IDs look alike, and a 60 kB value makes one table row taller than a screen.
Every page, the admin, the SVG timeline and the CSV export show log values through here.
"""

from __future__ import annotations

import re
from html import escape

from django.utils.translation import gettext as _

# Every character Unicode files as a control (Cc: C0, DEL, C1), a format character (Cf:
# bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width space/joiners, word
# joiner, BOM, soft hyphen, interlinear annotation, tag characters…) or a line/paragraph
# separator (Zl, Zp), as of Unicode 14 (Python 3.11), plus the Hangul fillers, which are
# letters that draw nothing. tests/test_records_display.py checks the class against the
# running Python's unicodedata, so a newer Unicode's additions fail a test, not silently.
INVISIBLE = re.compile(
    "["
    "\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    "\u115f-\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff"
    "\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "]"
)

CUT_AT = 200  # characters shown before a value is cut (a logged Message-ID is at most 83)
HEAD = 100  # characters of a cut value shown before "…"
_CHUNK = 40  # the whole value breaks into lines of this many characters at most


def _marker(match: re.Match) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def visible(value: object) -> str:
    """`value` as text, each invisible character replaced by a marker such as ⟨U+202E⟩."""
    text = "" if value is None else str(value)
    if INVISIBLE.search(text) is None:  # nearly every value: no copy made
        return text
    return INVISIBLE.sub(_marker, text)


def value_html(value: object) -> str:
    """HTML of a log value for a page: escaped, visible, and cut when overlong.

    A value longer than CUT_AT shows its first HEAD characters; the whole of it is in a
    closed <details> (one click; no script, so the CSP holds). Both are broken by <wbr>, so
    that they wrap inside their column instead of widening the table, with or without CSS
    (the admin has none for them).
    """
    text = "" if value is None else str(value)
    if len(text) <= CUT_AT:
        return escape(visible(text))
    head = _("%(start)s… (%(length)s characters)") % {
        "start": visible(text[:HEAD]),
        "length": f"{len(text):,}",
    }
    return f'<details class="long-value"><summary>{_breakable(head)}</summary>{_breakable(visible(text))}</details>'


def _breakable(text: str) -> str:
    """`text` escaped, with a line-break opportunity (<wbr>) every _CHUNK characters."""
    return "<wbr>".join(escape(text[i : i + _CHUNK]) for i in range(0, len(text), _CHUNK))
