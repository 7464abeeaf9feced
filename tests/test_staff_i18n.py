"""The staff pages and admin labels speak zh-Hant and English.

The catalogues themselves (every string translated, .mo up to date) are checked, and rebuilt,
by tests/test_catalogues.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.test_staff_support import ALICE, alice_and_bob, staff_user


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_db")
def test_the_search_page_speaks_chinese_and_english(client, settings):
    settings.SECURE_SSL_REDIRECT = False
    alice_and_bob()
    client.force_login(staff_user("carol", may_look=True))
    zh = client.get(
        reverse("staff:search"), {"account": ALICE}, HTTP_ACCEPT_LANGUAGE="zh-hant"
    ).content.decode()
    en = client.get(reverse("staff:search"), {"account": ALICE}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "每次查詢都會被記錄" in zh
    assert "Every lookup is recorded" in en
