"""The compiled fast paths (ingest/_*.pyx): built by `make setup`, used, and optional.

Each fast path's answers are compared with its pure-Python reference in its own module's
tests (the parser's in tests/test_parse_batch.py, the COPY encoder's in
tests/test_fastcopy.py); these tests check the plumbing: that the test run uses every fast
path there is (a fresh clone that failed to compile one would otherwise test only the
fallback and pass), that a stale build is not used, and that
MAILTRAIL_PURE_PYTHON turns them all off and is checked like every other setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest import speedups

PROJECT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p.stem for p in (PROJECT / "ingest").glob("_*.pyx"))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        cwd=PROJECT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_fast_path_is_built_and_in_use() -> None:
    """`make setup` compiled every ingest/_*.pyx, and this run uses each one."""
    assert SOURCES, "no ingest/_*.pyx: the fast paths are gone?"
    if speedups.PURE_PYTHON:
        pytest.fail("MAILTRAIL_PURE_PYTHON is set: unset it to test the compiled fast paths")
    for name in SOURCES:
        assert getattr(speedups, name.lstrip("_")) is not None, f"{name}: {speedups.WHY_NOT.get(name)}"
        assert speedups.WHY_NOT[name] == ""
    out = _run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("mailtrail ") and "compiled: " in out.stdout
    for name in SOURCES:
        assert name in out.stdout


def test_pure_python_turns_every_fast_path_off() -> None:
    out = _run("--version", MAILTRAIL_PURE_PYTHON="yes")
    assert out.returncode == 0, out.stderr
    assert "compiled" not in out.stdout
    for name in SOURCES:
        assert f"{name}: MAILTRAIL_PURE_PYTHON is set" in out.stdout
    # …and the parser answers the same without them
    files = sorted(str(p) for p in (PROJECT / "samples").glob("mail.log*"))
    assert files
    fast, pure = _run("parse", *files), _run("parse", *files, MAILTRAIL_PURE_PYTHON="yes")
    assert fast.returncode == pure.returncode == 0, (fast.stderr, pure.stderr)
    assert fast.stdout.count("\n") > 10
    assert fast.stdout == pure.stdout
    assert fast.stderr == pure.stderr


def test_a_bad_pure_python_value_is_a_configuration_error() -> None:
    for args in (("--version",), ("parse", "/dev/null")):
        out = _run(*args, MAILTRAIL_PURE_PYTHON="sometimes")
        assert out.returncode == 2
        assert "MAILTRAIL_PURE_PYTHON" in out.stderr and "Traceback" not in out.stderr


def test_a_build_older_than_its_source_is_not_used(tmp_path, monkeypatch) -> None:
    """A .pyx edited after the build (no `make setup` since): the old build would answer for
    code that is no longer there, so the pure-Python path is used, with the reason."""
    pkg = tmp_path / "fastpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_fake.py").write_text("ANSWER = 42\n")  # stands for the built extension module
    source = pkg / "_fake.pyx"
    source.write_text("ANSWER = 43\n")
    built = time.time() - 60
    os.utime(pkg / "_fake.py", (built, built))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(speedups, "PURE_PYTHON", False)
    monkeypatch.setattr(speedups, "WHY_NOT", {})
    assert speedups._load("_fake", "fastpkg") is None
    assert "make setup" in speedups.WHY_NOT["_fake"]
    assert "_fake.pyx" in speedups.summary()
    os.utime(source, (built - 60, built - 60))  # the build is newer again
    module = speedups._load("_fake", "fastpkg")
    assert module is not None and module.ANSWER == 42
    assert speedups.summary() == "compiled: _fake"
    assert speedups._load("_missing", "fastpkg") is None
    assert speedups.WHY_NOT["_missing"].startswith("not built")
