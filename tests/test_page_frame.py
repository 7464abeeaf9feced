"""The page frame (base.html): the language switch names each language in its own language; the footer."""

import pytest
from django.urls import reverse

from tests.test_records_support import records_partitions, records_setup, sign_in  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_language_switch_names_each_language_in_its_own_language(client, language):
    body = sign_in(client, "alice@example.edu").get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE=language)
    html = body.content.decode()
    assert '<option value="en"' in html and ">English</option>" in html
    assert ">正體中文</option>" in html
    assert "英語" not in html and "Traditional Chinese" not in html


def test_the_footer_names_the_organisation_and_whom_to_contact_in_each_language(client, settings):
    settings.MAILTRAIL_SITE_ORGANISATION = "國立範例大學 計算機中心"
    settings.MAILTRAIL_SITE_ORGANISATION_EN = "Example University <Computer Centre>"
    settings.MAILTRAIL_SITE_CONTACT = "mail-help@example.edu"
    zh = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    en = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "可能不完整或有誤" in zh and "如有疑問，請洽：" in zh and "國立範例大學 計算機中心" in zh
    assert "may be incomplete or wrong" in en and "Example University &lt;Computer Centre&gt;" in en
    for html in (zh, en):
        assert 'href="mailto:mail-help@example.edu"' in html


def test_a_contact_that_is_not_an_address_is_shown_as_text_and_nothing_without_one(client, settings):
    settings.MAILTRAIL_SITE_CONTACT = "分機 2266 <b>"
    html = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert '<span class="site-contact">分機 2266 &lt;b&gt;</span>' in html and "mailto:" not in html
    settings.MAILTRAIL_SITE_CONTACT = ""
    html = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "可能不完整或有誤" in html and "如有疑問" not in html and "site-organisation" not in html
