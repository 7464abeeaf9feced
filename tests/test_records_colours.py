"""The record types' colours: the seed's seven stay apart for colour-blind readers, and the
style sheet paints each type in the colour webui/records/types.py gives it."""

from __future__ import annotations

import re
from itertools import combinations

import pytest
from colorspacious import cspace_convert, deltaE

from tests.conftest import PROJECT_DIR
from webui.records.types import ALL_TYPES, TYPES

SEED = TYPES[:7]  # design.md's seven
CSS = PROJECT_DIR / "webui" / "records" / "static" / "records" / "records.css"
# CAM02-UCS distance: about 1 is just noticeable side by side; swatches a row apart need far more
MIN_DISTANCE = 12


def _rgb(hex_colour: str) -> list[float]:
    return [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]


def closest_pair(colours: dict[str, str], cvd_type: str | None) -> tuple[float, str, str]:
    """The two colours nearest each other as a reader with `cvd_type` (full severity) sees them."""
    space = "sRGB1" if cvd_type is None else {"name": "sRGB1+CVD", "cvd_type": cvd_type, "severity": 100}
    seen = {key: cspace_convert(cspace_convert(_rgb(c), space, "sRGB1"), "sRGB1", "CAM02-UCS")
            for key, c in colours.items()}  # fmt: skip
    return min(
        (float(deltaE(seen[a], seen[b], input_space="CAM02-UCS")), a, b) for a, b in combinations(seen, 2)
    )


@pytest.mark.parametrize("cvd_type", [None, "deuteranomaly", "protanomaly"])
def test_the_seven_seed_types_stay_apart_for_colour_blind_readers(cvd_type):
    distance, a, b = closest_pair({t.key: t.colour for t in SEED}, cvd_type)
    assert distance > MIN_DISTANCE, f"{a} and {b} look alike ({cvd_type}): {distance:.1f}"


def test_the_previous_palette_would_have_failed_the_colour_blind_check():
    # the colours before issue 12: two greens and two blues a deuteranope could not tell apart
    before = {"pop3-login": "#2f855a", "pop3-logout": "#68d391", "auth-fail": "#c53030",
              "imap-login": "#2b6cb0", "imap-logout": "#90cdf4", "imap-mailbox-delete": "#6b46c1",
              "imap-message-delete": "#d69e2e"}  # fmt: skip
    assert closest_pair(before, "deuteranomaly")[0] < MIN_DISTANCE


def test_every_type_has_its_own_colour():
    colours = [t.colour.lower() for t in ALL_TYPES]
    assert len(set(colours)) == len(colours)


def test_the_style_sheet_paints_each_type_in_its_colour():
    css = CSS.read_text()
    for t in ALL_TYPES:
        m = re.search(r"\.type-" + re.escape(t.key) + r" \{ --type: (#[0-9A-Fa-f]{6}); \}", css)
        assert m is not None, t.key
        assert m.group(1).lower() == t.colour.lower(), t.key
