"""The ingester's optional compiled fast paths (ingest/_*.pyx, built by setup.py).

Each name below is its compiled module, or None where it is not built (no C compiler at
install time), out of date (its .pyx is newer than the build: `make setup` rebuilds it) or
turned off by MAILTRAIL_PURE_PYTHON=yes. The pure-Python code they speed up stays the
reference: a fast path answers exactly as it does (tests/test_speedups.py and the
differential tests of the parser compare them line by line), so turning one off changes
the speed and nothing else.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from mailtrail.env import env_bool

log = logging.getLogger(__name__)

PURE_PYTHON = env_bool("MAILTRAIL_PURE_PYTHON", False)
# why each fast path is not in use ("" for one that is), for `--version`-style reports and tests
WHY_NOT: dict[str, str] = {}


def _load(name: str, package: str = "ingest") -> ModuleType | None:
    if PURE_PYTHON:
        WHY_NOT[name] = "MAILTRAIL_PURE_PYTHON is set"
        return None
    try:
        module = importlib.import_module(f"{package}.{name}")
    except ImportError as exc:
        WHY_NOT[name] = f"not built ({exc})"
        return None
    source = Path(module.__file__ or "").with_name(f"{name}.pyx")
    built = Path(module.__file__ or "")
    if source.exists() and built.exists() and source.stat().st_mtime > built.stat().st_mtime:
        WHY_NOT[name] = f"{built.name} is older than {source.name}: run `make setup`"
        log.warning("ingest: %s; using the pure-Python code", WHY_NOT[name])
        return None
    WHY_NOT[name] = ""
    return module


def summary() -> str:
    """`compiled: _fastparse, …` or `pure Python (why)`: which fast paths this process uses."""
    used = sorted(name for name, why in WHY_NOT.items() if not why)
    off = sorted(f"{name}: {why}" for name, why in WHY_NOT.items() if why)
    return "; ".join(([f"compiled: {', '.join(used)}"] if used else []) + off) or "no fast paths"


fastparse = _load("_fastparse")  # Parser.parse_lines (ingest/parse.py)
fastread = _load("_fastread")  # a block split into its lines in one call (ingest/source.py)
fastcorrelate = _load("_fastcorrelate")  # the correlate stage and its rows in one loop (ingest/correlate.py)
fastclients = _load("_fastclients")  # IMAP ID rows folded into their sessions' rows (ingest/clients.py)
fastcopy = _load("_fastcopy")  # copy_events' COPY BINARY (ingest/sink.py; reference: psycopg's write_row)
