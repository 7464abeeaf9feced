"""The migrated database matches ingest/schema.py, and partitions come and go as asked."""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ingest.partitions import ensure_partitions, existing_months, months_around
from ingest.schema import metadata


def _include(obj, name, type_, reflected, compare_to):
    return not (
        type_ == "table"
        and (name.startswith("event_y") or not name.startswith(("event", "source", "bad_line")))
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
