"""The records pages speak zh-Hant and English.

The catalogues themselves (every string translated, .mo up to date) are checked, and rebuilt,
by tests/test_catalogues.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.test_records_support import alice_day, records_partitions, records_setup, sign_in, today  # noqa: F401


@pytest.mark.django_db
def test_it_shows_the_day_view_in_chinese_and_in_english(client):
    alice_day(today())
    sign_in(client, "alice@example.edu")
    zh = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    en = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in (
        "POP3 登入",
        "POP3 登出",
        "驗證失敗",
        "IMAP 登入",
        "IMAP 登出",
        "IMAP 刪除信箱",
        "IMAP 刪除信件",
        "匯出 CSV",
    ):
        assert text in zh
    for text in (
        "POP3 login",
        "POP3 logout",
        "Auth failure",
        "IMAP login",
        "IMAP logout",
        "IMAP delete mailbox",
    ):
        assert text in en
    assert "Export CSV" not in zh and "匯出 CSV" not in en


@pytest.mark.django_db
def test_it_explains_a_bad_date_in_the_chosen_language(client):
    sign_in(client, "alice@example.edu")
    zh = client.get(reverse("records:day"), {"date": "2999-01-01"}, HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "日期在未來" in zh.content.decode()
