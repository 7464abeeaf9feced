"""Log values shown everywhere with their invisible characters as markers, overlong ones cut, never cached."""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_records_support import (  # noqa: F401
    ALICE,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)
from tests.test_staff_support import staff_user
from webui.records.display import CUT_AT, HEAD, INVISIBLE, value_html, visible

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]

SPOOF = "invoice\u202egpj.exe-A"  # reads "invoiceA-exe.jpg" where the override is obeyed
LONG_ID = "<" + "x" * 60_000 + "@example.org>"

# (character, why it must be shown): the table the function is held to
SHOWN = [
    ("\u202a", "left-to-right embedding"),
    ("\u202b", "right-to-left embedding"),
    ("\u202c", "pop directional formatting"),
    ("\u202d", "left-to-right override"),
    ("\u202e", "right-to-left override"),
    ("\u2066", "left-to-right isolate"),
    ("\u2067", "right-to-left isolate"),
    ("\u2068", "first strong isolate"),
    ("\u2069", "pop directional isolate"),
    ("\u200e", "left-to-right mark"),
    ("\u200f", "right-to-left mark"),
    ("\u061c", "Arabic letter mark"),
    ("\u200b", "zero-width space"),
    ("\u200c", "zero-width non-joiner"),
    ("\u200d", "zero-width joiner"),
    ("\u2060", "word joiner"),
    ("\ufeff", "byte-order mark"),
    ("\u00ad", "soft hyphen"),
    ("\u2028", "line separator"),
    ("\u2029", "paragraph separator"),
    ("\u3164", "Hangul filler"),
    ("\U000e0041", "tag letter A"),
    ("\x00", "NUL"),
    ("\x07", "bell"),
    ("\x1b", "escape"),
    ("\t", "tab"),
    ("\n", "line feed"),
    ("\r", "carriage return"),
    ("\x7f", "delete"),
    ("\x85", "next line (C1)"),
    ("\x9b", "control sequence introducer (C1)"),
]
KEPT = ["a", "é", "電", "郵", " ", "\u00a0", "\u3000", "😀", "<", "&", '"', "'", "ü", "ا", "א"]


@pytest.mark.parametrize(("char", "name"), SHOWN, ids=[name for _, name in SHOWN])
def test_an_invisible_character_is_shown_as_its_code_point(char, name):
    assert visible(f"a{char}b") == f"a⟨U+{ord(char):04X}⟩b"


@pytest.mark.parametrize("char", KEPT)
def test_a_visible_character_is_kept_as_it_is(char):
    assert visible(f"a{char}b") == f"a{char}b"


def test_the_class_holds_every_control_and_format_character_this_python_knows():
    wanted = {"Cc", "Cf", "Zl", "Zp"}
    missing = [
        f"U+{c:04X}"
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in wanted and not INVISIBLE.fullmatch(chr(c))
    ]
    assert missing == []


def test_a_spoofed_file_name_reads_as_what_it_is():
    assert visible(SPOOF) == "invoice⟨U+202E⟩gpj.exe-A"
    assert visible(None) == ""
    assert visible(12) == "12"


def test_an_overlong_value_is_cut_with_the_whole_of_it_one_click_away():
    html = value_html(LONG_ID)
    assert html.replace("<wbr>", "").startswith(
        '<details class="long-value"><summary>&lt;' + "x" * (HEAD - 1) + "…"
    )
    summary = re.search(r"<summary>(.*?)</summary>", html).group(1)
    assert len(summary) < HEAD + 40
    assert html.replace("<wbr>", "").count("x" * 60_000) == 1  # the whole value, in the <details>
    assert "<script" not in value_html("<script>" * 100)
    assert value_html("y" * CUT_AT) == "y" * CUT_AT  # at the limit: shown whole


# --- every place a log value is shown ----------------------------------------------------


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def insert_hostile_day() -> None:
    """Alice's morning as an attacker wrote it: a spoofed name, a 60 kB Message-ID, markup, a zero-width space."""
    insert_event(
        at(today(), "09:00:00"), "imap", "message_delete", ip="192.0.2.66", session="s1",
        mailbox=SPOOF, message_id="<" + SPOOF + "@example.org>",
    )  # fmt: skip
    insert_event(
        at(today(), "09:01:00"), "imap", "message_delete", ip="192.0.2.66", session="s1",
        mailbox=XSS, message_id=LONG_ID,
    )  # fmt: skip
    insert_event(at(today(), "09:02:00"), "imap", "auth_fail", ip="192.0.2.66", reason="bad\u200bpass " + XSS)


@pytest.fixture
def hostile():
    insert_hostile_day()


@pytest.fixture
def carol():
    client = Client()
    client.force_login(staff_user("carol", may_look=True, admin_events=True))
    return client


def assert_shown_visibly(body: str) -> None:
    assert "⟨U+202E⟩" in body
    for char in ("\u202e", "\u200b"):
        assert char not in body, f"U+{ord(char):04X} shown raw"
    assert "x" * 60_000 not in body.replace("<wbr>", "") or '<details class="long-value">' in body


def test_the_owners_day_view_shows_markers_and_cuts_the_long_message_id(client, hostile):
    body = sign_in(client, ALICE).get(reverse("records:day")).content.decode()
    assert_shown_visibly(body)
    assert "bad⟨U+200B⟩pass" in body
    assert body.count('<details class="long-value">') == 1


def test_the_owners_search_shows_markers(client, hostile):
    response = sign_in(client, ALICE).get(reverse("records:search"), {"q": "<" + SPOOF + "@example.org>"})
    table = response.content.decode().split('<table class="records"', 1)[1]  # the form echoes what she typed
    assert_shown_visibly(table)


def test_the_owners_csv_shows_markers_and_stays_formula_safe(client, hostile):
    insert_event(at(today(), "09:03:00"), "imap", "mailbox_delete", mailbox="\u202e=HYPERLINK(1)")
    body = sign_in(client, ALICE).get(reverse("records:export")).content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert "invoice⟨U+202E⟩gpj.exe-A" in cells
    assert "⟨U+202E⟩=HYPERLINK(1)" in cells
    assert LONG_ID in cells  # the export keeps the whole value
    assert not [c for c in cells if c.startswith(("=", "+", "@")) or INVISIBLE.search(c)]


def test_the_staff_search_and_its_timeline_show_markers(carol, hostile):
    insert_event(
        at(today(), "09:05:00"), "imap", "login", account="mallory\u202e@example.edu", ip="192.0.2.9"
    )
    body = carol.get(reverse("staff:search"), {"account": ALICE}).content.decode()
    assert_shown_visibly(body)
    spoofed = carol.get(reverse("staff:search"), {"account": "mallory\u202e@example.edu"})
    assert "mallory⟨U+202E⟩@example.edu" in spoofed.content.decode()
    svg = carol.get(spoofed.context["timeline_src"]).content.decode()
    assert "<title>mallory⟨U+202E⟩@example.edu</title>" in svg


def test_the_event_admin_shows_markers_and_cuts_the_long_message_id(carol, hostile):
    body = carol.get(reverse("admin:records_event_changelist"), {"q": ALICE}).content.decode()
    assert_shown_visibly(body)
    assert body.count('<details class="long-value">') == 1


def test_the_bad_lines_admin_shows_markers(carol):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("INSERT INTO source (fingerprint, path) VALUES ('fp', '/var/log/mail.log') RETURNING id")
        cur.execute(
            "INSERT INTO bad_line (source_id, line_offset, raw, reason) VALUES (%s, 1, %s, 'odd') RETURNING id",
            [cur.fetchone()[0], SPOOF.encode() + b"\x1b[31m"],
        )
        bad = cur.fetchone()[0]
    for url in (
        reverse("admin:records_badline_changelist"),
        reverse("admin:records_badline_change", args=[bad]),
    ):
        body = carol.get(url).content.decode()
        assert "invoice⟨U+202E⟩gpj.exe-A⟨U+001B⟩[31m" in body, url
        assert "\u202e" not in body and "\x1b" not in body


@pytest.mark.parametrize("name", ["records:day", "records:search", "records:export", "records:timeline"])
def test_an_owners_page_is_never_stored_in_a_cache(client, name):
    response = sign_in(client, ALICE).get(reverse(name), {"q": "<a@b>"} if name == "records:search" else {})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("name", ["staff:search", "staff:export"])
def test_a_staff_page_is_never_stored_in_a_cache(carol, name):
    response = carol.get(reverse(name), {"account": ALICE})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    if name == "staff:search":
        timeline = carol.get(response.context["timeline_src"])
        assert timeline.status_code == 200 and "no-store" in timeline["Cache-Control"]
