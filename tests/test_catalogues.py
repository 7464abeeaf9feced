"""Every app's zh-Hant and English catalogues: each string of its pages translated, none fuzzy,
and the shipped .mo compiled from the .po beside it.

After changing a string, rebuild an app's catalogues: `.venv/bin/python -m tests.test_catalogues
APP` (extracts, merges into webui/APP/locale/*/LC_MESSAGES/django.po, fills English, compiles);
translate the new zh-Hant entries and run it again to compile.
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

from tests.conftest import PROJECT_DIR

LANGUAGES = ("zh_Hant", "en")
# app -> templates outside the app whose strings its catalogue carries
APPS = {
    "accounts": [],
    "alerts": [],
    "records": [PROJECT_DIR / "webui" / "templates" / "base.html"],  # the page frame
    "staff": [PROJECT_DIR / "webui" / "templates" / "admin" / "index.html"],  # the admin index's link
}


def app_dir(app: str) -> Path:
    return PROJECT_DIR / "webui" / app


def po_file(app: str, language: str) -> Path:
    return app_dir(app) / "locale" / language / "LC_MESSAGES" / "django.po"


def extract(app: str, workdir: Path) -> Path:
    """A fresh catalogue of every string in the app (and the templates it carries)."""
    shutil.copytree(app_dir(app), workdir / app, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (workdir / "templates").mkdir()
    for template in APPS[app]:
        shutil.copy(template, workdir / "templates" / template.name)
    (workdir / "locale").mkdir()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR))  # webui.settings_test makes up a secret key
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--settings", "webui.settings_test", "-l", "en",
         "--no-location", "--no-obsolete", "--no-wrap"],
        cwd=workdir, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return workdir / "locale" / "en" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Path]:
    return {app: extract(app, tmp_path_factory.mktemp(f"messages-{app}")) for app in APPS}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("app", sorted(APPS))
def test_every_string_of_the_app_has_a_translation(references, app, language):
    # msgcmp fails on a msgid of the app missing from the catalogue, untranslated or fuzzy
    result = subprocess.run(
        ["msgcmp", str(po_file(app, language)), str(references[app])], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("app", sorted(APPS))
def test_the_shipped_catalogue_is_compiled_from_its_source(tmp_path, app, language):
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po_file(app, language))], check=True)
    with fresh.open("rb") as a, po_file(app, language).with_suffix(".mo").open("rb") as b:
        assert gettext.GNUTranslations(b)._catalog == gettext.GNUTranslations(a)._catalog


def update(app: str) -> None:
    """Merge new strings into the app's catalogues, fill English, compile both."""
    with tempfile.TemporaryDirectory() as tmp:
        reference = extract(app, Path(tmp))
        for language in LANGUAGES:
            po = po_file(app, language)
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
    for name in sys.argv[1:] or sorted(APPS):
        update(name)
