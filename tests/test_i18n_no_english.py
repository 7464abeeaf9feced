"""A page in zh-Hant shows no English string from our catalogues' source language: every
owner's page, the sign-in page (with a wrong captcha), the staff search and the admin."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import PROJECT_DIR
from tests.test_records_support import (  # noqa: F401
    ALICE,
    alice_day,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)
from tests.test_staff_support import staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hant"}
# what a reader sees of an element besides its text
SHOWN_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{[^}]*\}\}")


def source_strings() -> dict[str, re.Pattern]:
    """Each English msgid of our zh-Hant catalogues (whose translation differs from it), as
    patterns of its literal pieces: a piece of two words or more, or one word of 4+ letters."""
    patterns: dict[str, re.Pattern] = {}
    for po in sorted(PROJECT_DIR.glob("webui/*/locale/zh_Hant/LC_MESSAGES/django.po")):
        text = po.read_text(encoding="utf-8")
        for msgid, msgstr in re.findall(
            r'^msgid "(.+)"\n(?:msgid_plural .*\n)?msgstr(?:\[0\])? "(.*)"$', text, re.M
        ):
            if msgstr == msgid or msgid in msgstr:
                continue  # "IP", "Message-ID", "POP3": the same in both languages
            for piece in _PLACEHOLDER.split(msgid.replace('\\"', '"')):
                piece = piece.strip(" :.,()→←·")
                if len(piece.split()) >= 2 or re.fullmatch(r"[A-Za-z-]{4,}", piece):
                    # not a search keyword such as the admin's `account:…`
                    patterns[msgid] = re.compile(r"(?<![\w-])" + re.escape(piece) + r"(?![\w:-])")
                    break
    return patterns


class _Shown(HTMLParser):
    """The text a reader sees: text outside script/style, and the shown attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        if tag == "img" and (dict(attrs).get("src") or "").endswith("admin/img/search.svg"):
            return  # Django's admin writes this icon's alt="Search" untranslated: not ours
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts.append(value)
            if (
                tag in ("input", "button")
                and name == "value"
                and dict(attrs).get("type") in ("submit", "button")
            ):
                self.parts.append(value or "")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def english_on(response) -> list[str]:
    assert response.status_code in (200, 400), response.status_code
    parser = _Shown()
    parser.feed(response.content.decode())
    shown = "\n".join(parser.parts)
    return [msgid for msgid, pattern in source_strings().items() if pattern.search(shown)]


@pytest.fixture
def alices_day():
    alice_day(today())
    insert_event(at(today(), "11:00:00"), "imap", "logout", ip="192.0.2.1", reason="Connection closed")
    insert_event(
        at(today(), "11:01:00"), "imap", "auth_fail", ip="192.0.2.1", reason="passwd-file: unknown user"
    )
    insert_event(at(today(), "11:02:00"), "imap", "flag_delete", ip="192.0.2.1", mailbox="INBOX", size=2048)
    insert_event(at(today(), "11:03:00"), "lmtp", "save", mailbox="INBOX")  # an "other" type


def test_the_pattern_finds_an_english_string_that_slipped_through():
    patterns = source_strings()
    assert patterns["Where did this message go?"].search("<h2>Where did this message go?</h2>")
    assert patterns["Auth failure"].search("驗證失敗 Auth failure")
    assert not patterns["Auth failure"].search("驗證失敗")


def test_the_owners_pages_in_zh_hant_show_no_english_string_of_ours(client, alices_day):
    sign_in(client, ALICE)
    assert english_on(client.get(reverse("records:day"), **ZH)) == []
    assert english_on(client.get(reverse("records:day"), {"date": "2999-01-01"}, **ZH)) == []
    assert english_on(client.get(reverse("records:search"), {"q": "<pop3-taken@example.org>"}, **ZH)) == []


def test_the_sign_in_page_in_zh_hant_shows_no_english_even_for_a_wrong_captcha(client):
    assert english_on(client.get(reverse("accounts:login"), **ZH)) == []
    data = {
        "account": "alice",
        "domain": "example.edu",
        "password": "x",
        "captcha_0": "nope",
        "captcha_1": "x",
    }
    response = client.post(reverse("accounts:login"), data, **ZH)
    assert "驗證碼不正確" in response.content.decode()
    assert english_on(response) == []


def test_the_staff_pages_in_zh_hant_show_no_english_string_of_ours(client, alices_day):
    carol = staff_user("carol", may_look=True, admin_events=True)
    client.force_login(carol)
    assert english_on(client.get(reverse("staff:search"), {"account": ALICE}, **ZH)) == []
    index = client.get(reverse("admin:index"), **ZH)
    assert english_on(index) == []
    assert "服務台" in index.content.decode()
    changelist = client.get(reverse("admin:records_event_changelist"), **ZH)
    assert english_on(changelist) == []
    superuser = get_user_model().objects.create_superuser("root", password="root-password-1")
    client.force_login(superuser)
    assert english_on(client.get(reverse("admin:index"), **ZH)) == []
