"""The page frame (base.html): the language switch names each language in its own language."""

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
