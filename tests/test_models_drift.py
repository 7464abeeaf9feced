"""Django's unmanaged models declare exactly the columns alembic created, with matching types."""

import pytest
from django.db import connection

from webui.records.models import BadLine, Event, Source

# Django field class -> PostgreSQL data_type in information_schema
PG_TYPES = {
    "BigIntegerField": "bigint",
    "IntegerField": "integer",
    "TextField": "text",
    "DateTimeField": "timestamp with time zone",
    "GenericIPAddressField": "inet",
    "BinaryField": "bytea",
    "ForeignKey": "integer",
}


def _columns(table):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema()",
            [table],
        )
        return {name: (dtype, nullable == "YES") for name, dtype, nullable in cur.fetchall()}


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Event, Source, BadLine])
def test_each_model_declares_every_column_of_its_table_with_its_type(model):
    table = _columns(model._meta.db_table)
    declared = {f.column: (PG_TYPES[f.get_internal_type()], f.null) for f in model._meta.concrete_fields}
    assert declared == table
