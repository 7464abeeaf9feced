"""The sign-in pages' zh-Hant catalogue: every string translated, none fuzzy, the .mo up to date."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "webui" / "accounts"
CATALOGUE = APP / "locale" / "zh_Hant" / "LC_MESSAGES"


def _unquote(chunks: list[str]) -> str:
    return "".join(ast.literal_eval(f'"{chunk}"') for chunk in chunks)


def read_po(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for each entry but the header; enough of the format for our files."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in block.splitlines())
        match = re.search(r'^msgid ((?:".*"\n?)+)^msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        if not match:
            continue
        msgid = _unquote(re.findall(r'"(.*)"', match.group(1)))
        msgstr = _unquote(re.findall(r'"(.*)"', match.group(2)))
        if msgid:
            entries.append((msgid, msgstr, fuzzy))
    return entries


def strings_in_the_app() -> set[str]:
    """Literal strings marked for translation in the app's Python and templates."""
    found: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"_", "gettext", "gettext_lazy"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    for path in (APP / "templates").rglob("*.html"):
        found |= set(re.findall(r'{% (?:translate|trans) "([^"]+)"', path.read_text(encoding="utf-8")))
    return found


ENTRIES = read_po(CATALOGUE / "django.po")


def test_the_catalogue_is_read() -> None:
    assert len(ENTRIES) >= 10


@pytest.mark.parametrize("msgid", sorted(strings_in_the_app()))
def test_every_string_of_the_app_is_in_the_catalogue(msgid: str) -> None:
    assert msgid in {entry[0] for entry in ENTRIES}, "run makemessages in webui/accounts"


@pytest.mark.parametrize(("msgid", "msgstr", "fuzzy"), ENTRIES, ids=[e[0][:40] for e in ENTRIES])
def test_every_entry_is_translated_and_not_fuzzy(msgid: str, msgstr: str, fuzzy: bool) -> None:
    assert msgstr.strip(), f"untranslated: {msgid!r}"
    assert not fuzzy, f"fuzzy: {msgid!r}"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with open(CATALOGUE / "django.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [msgid for msgid, msgstr, _ in ENTRIES if compiled.gettext(msgid) != msgstr]
    assert stale == [], "run compilemessages in webui/accounts"
