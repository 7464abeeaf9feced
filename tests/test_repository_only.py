"""The test suite reads nothing outside the repository: a user's clone has no steering folder beside it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import CORPUS, PROJECT_DIR

# the steering repository's folder beside the clone (built from parts here, so that this file
# does not itself name it), a path that climbs out of the project (`.parent.parent` from the project root,
# `PROJECT_DIR.parent`), or the corpus folder of the steering repository
_NAME = "sha" + "red"
_OUTSIDE = re.compile(rf"\.\./{_NAME}|/{_NAME}/corpus|PROJECT_DIR\.parent|[\"']{_NAME}[\"']\s*/")


def test_no_test_or_fixture_names_a_path_outside_the_repository() -> None:
    offenders = []
    for path in sorted((PROJECT_DIR / "tests").rglob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(PROJECT_DIR)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_public_corpus_is_part_of_the_repository() -> None:
    assert CORPUS.is_relative_to(PROJECT_DIR)
    assert CORPUS.stat().st_size > 50_000
    assert (CORPUS.parent / "sources.md").is_file()
    header = CORPUS.open(encoding="utf-8").readline().rstrip("\n").split("\t")
    assert header == ["source_repo", "source_path", "event_kind", "line"]


def test_the_pattern_catches_the_old_corpus_path() -> None:
    assert _OUTSIDE.search(f'CORPUS = PROJECT_DIR.parent / "{_NAME}" / "corpus" / "x.tsv"')
    assert _OUTSIDE.search(f"open('../{_NAME}/corpus/dovecot-public-lines.tsv')")
    assert not _OUTSIDE.search('CORPUS = PROJECT_DIR / "tests" / "data" / "corpus" / "x.tsv"')
