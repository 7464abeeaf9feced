"""Test fixtures: a fresh real PostgreSQL per test session, migrated by alembic and Django."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from mailtrail.database import django_database, embedded_url, sqlalchemy_url, stop_embedded

pytest_plugins = ["tests.dovecot_server", "tests.alerts_support"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_DIR / "tests" / "data" / "corpus" / "dovecot-public-lines.tsv"

# Backfill and follow keep events older than the retention window out (a bad line each).
# Most tests are dated November 2026 for good: a century's window keeps them inside it in
# the years to come. The tests of the window set their own (tests/test_hostile_log.py).
os.environ.setdefault("MAILTRAIL_RETENTION_DAYS", "36500")


def _fresh_database(base_url: str, name: str) -> str:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, query = base_url.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return head + ("?" + query if query else "")


def alembic_config(url: str):
    """Alembic's configuration for the database at `url`, leaving pytest's logging alone."""
    from alembic.config import Config

    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url))
    cfg.attributes["configure_logging"] = False
    return cfg


def migrate_alembic(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new, migrated database for this test session.

    By default an embedded PostgreSQL in a temporary directory (the pgserver wheel);
    MAILTRAIL_TEST_DATABASE_URL points the tests at a server of your own instead, where a
    database named mailtrail_test_<pid> is created and dropped.
    """
    base = os.environ.get("MAILTRAIL_TEST_DATABASE_URL")
    tmp = None
    if base:
        url = _fresh_database(base, f"mailtrail_test_{os.getpid()}")
    else:
        # under /tmp and world-traversable: as root, pgserver runs the server as its own user
        tmp = Path(tempfile.mkdtemp(prefix="mailtrail-test-"))
        tmp.chmod(0o755)
        url = embedded_url(tmp / "pgdata", "mailtrail_test")
    os.environ["DATABASE_URL"] = url  # for the CLI run in subprocesses
    migrate_alembic(url)
    yield url
    if base:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "mailtrail_test_{os.getpid()}" WITH (FORCE)')
    if tmp is not None:
        stop_embedded(tmp / "pgdata")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_setup(database_url: str, django_db_blocker) -> None:
    """Point Django at the session database (alembic has run) and apply Django's migrations."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    params = django_database(database_url)
    settings.DATABASES["default"].update(params)
    settings.DATABASES["default"].pop("EMBEDDED_PGDATA", None)
    connections["default"].close()
    connections["default"].settings_dict.update(params)
    connections["default"].settings_dict.pop("EMBEDDED_PGDATA", None)
    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def clean_db(engine: sa.Engine) -> sa.Engine:
    """Empty event, source and bad_line tables; the partitions stay."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("TRUNCATE event, source, bad_line, checkpoint, follower RESTART IDENTITY CASCADE")
        )
    return engine
