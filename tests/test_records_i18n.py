"""The records pages speak zh-Hant and English, and a string without a translation fails here.

Rebuild the catalogues after changing a string: `.venv/bin/python -m tests.test_records_i18n`
(extracts, merges into webui/records/locale/*/LC_MESSAGES/django.po, fills English, compiles);
then translate the new zh-Hant entries and run it again to compile.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from tests.test_records_support import alice_day, records_partitions, records_setup, sign_in, today  # noqa: F401

PROJECT = Path(__file__).resolve().parent.parent
APP = PROJECT / "webui" / "records"
LOCALE = APP / "locale"
LANGUAGES = ("zh_Hant", "en")


def extract(workdir: Path) -> Path:
    """A fresh catalogue of every string in the records app and the page frame (base.html)."""
    shutil.copytree(APP, workdir / "records", ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (workdir / "templates").mkdir()
    shutil.copy(PROJECT / "webui" / "templates" / "base.html", workdir / "templates" / "base.html")
    (workdir / "locale").mkdir()
    env = dict(
        os.environ, PYTHONPATH=str(PROJECT), DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "x")
    )
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--settings", "webui.settings_test", "-l", "en",
         "--no-location", "--no-obsolete", "--no-wrap"],
        cwd=workdir, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return workdir / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _po(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return extract(tmp_path_factory.mktemp("messages"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_has_a_translation_for_every_string_of_the_pages(reference, language):
    # msgcmp fails on a msgid of the pages missing from the catalogue, untranslated or fuzzy
    result = subprocess.run(["msgcmp", str(_po(language)), str(reference)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_ships_a_compiled_catalogue_that_matches_its_source(tmp_path, language):
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(_po(language))], check=True)
    shipped = _po(language).with_suffix(".mo")
    with fresh.open("rb") as a, shipped.open("rb") as b:
        assert gettext.GNUTranslations(b)._catalog == gettext.GNUTranslations(a)._catalog


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
        "auth failure",
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


def update() -> None:
    """Merge new strings into the catalogues, fill English, compile both."""
    with tempfile.TemporaryDirectory() as tmp:
        reference = extract(Path(tmp))
        for language in LANGUAGES:
            po = _po(language)
            po.parent.mkdir(parents=True, exist_ok=True)
            if not po.exists():
                shutil.copy(reference, po)
            subprocess.run(
                ["msgmerge", "--quiet", "--update", "--backup=none", "--no-wrap", "--no-location", str(po), str(reference)],
                check=True,
            )  # fmt: skip
            subprocess.run(["msgattrib", "--no-obsolete", "--no-wrap", "-o", str(po), str(po)], check=True)
            if language == "en":
                subprocess.run(["msgen", "--no-wrap", "-o", str(po), str(po)], check=True)
            result = subprocess.run(["msgattrib", "--untranslated", str(po)], capture_output=True, text=True)
            if result.stdout.strip():
                print(f"{po}: untranslated entries remain", file=sys.stderr)
            subprocess.run(["msgfmt", "--check", "-o", str(po.with_suffix(".mo")), str(po)], check=True)


if __name__ == "__main__":
    update()
