"""The migrated database matches ingest/schema.py, and partitions come and go as asked."""

from datetime import UTC, date, datetime

import psycopg
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ingest.partitions import ensure_partitions, existing_months, months_around
from ingest.schema import metadata
from mailtrail.database import sqlalchemy_url


def _include(obj, name, type_, reflected, compare_to):
    return not (
        type_ == "table"
        and (
            name.startswith("event_y")
            or not name.startswith(("event", "source", "bad_line", "checkpoint", "follower"))
        )
    )


def test_migrations_produce_exactly_the_declared_schema(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": _include, "compare_type": True})
        diffs = compare_metadata(ctx, metadata)
    assert diffs == []


def test_migration_creates_partitions_around_today(engine):
    with engine.connect() as conn:
        have = existing_months(conn)
    assert set(months_around(datetime.now(UTC).date())) <= have


def test_ensure_partitions_creates_missing_months_once(engine):
    with engine.begin() as conn:
        first = ensure_partitions(conn, [date(2011, 3, 1), date(2011, 4, 1)])
        again = ensure_partitions(conn, [date(2011, 3, 1)])
    assert first == ["event_y2011m03", "event_y2011m04"]
    assert again == []


def test_an_event_lands_in_its_utc_month_partition(engine):
    with engine.begin() as conn:
        ensure_partitions(conn, [date(2012, 1, 1), date(2011, 12, 1)])
        conn.execute(
            sa.text(
                "INSERT INTO event (ts, protocol, kind, account, source_id, line_offset) "
                "VALUES ('2012-01-01 07:30+08', 'imap', 'login', 'schema-test', 0, 0)"
            )
        )
        part = conn.execute(
            sa.text("SELECT tableoid::regclass::text FROM event WHERE account = 'schema-test'")
        ).scalar_one()
        conn.execute(sa.text("DELETE FROM event WHERE account = 'schema-test'"))
    assert part == "event_y2011m12"


def test_0003_indexes_the_rows_already_stored_on_every_partition_and_round_trips(database_url):
    # On a second database: migrate to 0002, store a cut-short Message-ID, then upgrade. The
    # index is built per partition CONCURRENTLY and attached; the parent's must end valid.
    from alembic import command

    from tests.conftest import _fresh_database, alembic_config

    url = _fresh_database(database_url, "mailtrail_test_0003")
    cfg = alembic_config(url)
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        command.upgrade(cfg, "0002")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO event (ts, protocol, kind, account, message_id, source_id, line_offset) "
                    "VALUES (now(), 'imap', 'message_delete', 'a@example.edu', '<cut...', 0, 0)"
                )
            )
        for _ in range(2):  # upgrade, and again after a downgrade
            command.upgrade(cfg, "head")
            with engine.connect() as conn:
                valid = conn.execute(
                    sa.text(
                        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'event_truncated_message_id_idx'::regclass"
                    )
                ).scalar_one()
                unindexed = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_inherits t WHERE t.inhparent = 'event'::regclass AND NOT EXISTS ("
                        " SELECT 1 FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid"
                        " WHERE i.inhparent = 'event_truncated_message_id_idx'::regclass AND x.indrelid = t.inhrelid)"
                    )
                ).scalar_one()
                conn.execute(sa.text("SET enable_seqscan = off"))
                found = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM event WHERE account = 'a@example.edu' AND right(message_id, 3) = '...'"
                    )
                ).scalar_one()
            assert (valid, unindexed, found) == (True, 0, 1)
            command.downgrade(cfg, "0002")
    finally:
        engine.dispose()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "mailtrail_test_0003" WITH (FORCE)')


def test_0004_adds_the_heartbeat_and_checkpoint_tables_and_round_trips(database_url):
    from alembic import command

    from tests.conftest import _fresh_database, alembic_config

    url = _fresh_database(database_url, "mailtrail_test_0004")
    cfg = alembic_config(url)
    engine = sa.create_engine(sqlalchemy_url(url))
    tables = "SELECT count(*) FROM pg_tables WHERE tablename IN ('follower', 'checkpoint')"
    try:
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert conn.execute(sa.text(tables)).scalar_one() == 2
        command.downgrade(cfg, "0003")
        with engine.connect() as conn:
            assert conn.execute(sa.text(tables)).scalar_one() == 0
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert conn.execute(sa.text(tables)).scalar_one() == 2
    finally:
        engine.dispose()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "mailtrail_test_0004" WITH (FORCE)')
