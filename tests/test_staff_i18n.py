"""The staff pages and admin labels speak zh-Hant and English; a string without a translation fails here.

After changing a string: in webui/staff, run `django-admin makemessages -l zh_Hant -l en
--no-location --no-obsolete --no-wrap` (with DJANGO_SETTINGS_MODULE=webui.settings_test),
translate the new entries, then `django-admin compilemessages`.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import PROJECT_DIR
from tests.test_staff_support import ALICE, alice_and_bob, staff_user

APP = PROJECT_DIR / "webui" / "staff"
LANGUAGES = ("zh_Hant", "en")


def _po(language: str):
    return APP / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    work = tmp_path_factory.mktemp("staff-messages")
    shutil.copytree(APP, work / "staff", ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (work / "locale").mkdir()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR), DJANGO_SECRET_KEY="x")
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--settings", "webui.settings_test", "-l", "en"]
        + ["--no-location", "--no-obsolete", "--no-wrap"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return work / "locale" / "en" / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_has_a_translation_for_every_string(reference, language):
    result = subprocess.run(["msgcmp", str(_po(language)), str(reference)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_ships_a_compiled_catalogue_that_matches_its_source(tmp_path, language):
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(_po(language))], check=True)
    with fresh.open("rb") as a, _po(language).with_suffix(".mo").open("rb") as b:
        assert gettext.GNUTranslations(b)._catalog == gettext.GNUTranslations(a)._catalog


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
