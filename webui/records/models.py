"""Unmanaged models over alembic's tables (ingest/schema.py); tests/test_models_drift.py keeps them honest."""

from django.db import models


class Event(models.Model):
    """One row of the partitioned event table. Read-only here: the ingester is the only writer."""

    # The table's primary key is (account, ts, id); id alone is unique (one sequence) and is
    # what Django needs to name a row.
    id = models.BigIntegerField(primary_key=True)
    ts = models.DateTimeField()
    host = models.TextField()
    protocol = models.TextField()
    kind = models.TextField()
    account = models.TextField()
    ip = models.GenericIPAddressField(null=True)
    session = models.TextField(null=True)
    pid = models.IntegerField(null=True)
    deleted = models.IntegerField(null=True)
    messages = models.IntegerField(null=True)
    size = models.BigIntegerField(null=True)
    deleted_bytes = models.BigIntegerField(null=True)
    expunged = models.IntegerField(null=True)
    trashed = models.IntegerField(null=True)
    bytes_in = models.BigIntegerField(null=True)
    bytes_out = models.BigIntegerField(null=True)
    mailbox = models.TextField(null=True)
    mailbox_to = models.TextField(null=True)
    message_id = models.TextField(null=True)
    uid = models.BigIntegerField(null=True)
    attempts = models.IntegerField(null=True)
    reason = models.TextField(null=True)
    source_id = models.IntegerField()
    line_offset = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "event"
        ordering = ["ts", "id"]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.protocol} {self.kind} {self.account}"


class Source(models.Model):
    """A log file the ingester has read, known by its fingerprint; byte_offset is its checkpoint."""

    id = models.IntegerField(primary_key=True)
    fingerprint = models.TextField(unique=True)
    path = models.TextField()
    host = models.TextField()
    byte_offset = models.BigIntegerField()
    size = models.BigIntegerField()
    lines = models.BigIntegerField()
    events = models.BigIntegerField()
    skipped = models.BigIntegerField()
    bad_lines = models.BigIntegerField()
    year = models.IntegerField(null=True)
    month = models.IntegerField(null=True)
    last_event_ts = models.DateTimeField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "source"

    def __str__(self) -> str:
        return self.path


class BadLine(models.Model):
    """A line that looked like Dovecot but could not be read, kept byte for byte."""

    id = models.BigIntegerField(primary_key=True)
    source = models.ForeignKey(Source, on_delete=models.DO_NOTHING, db_constraint=False)
    line_offset = models.BigIntegerField()
    raw = models.BinaryField()
    reason = models.TextField()
    seen_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bad_line"

    def __str__(self) -> str:
        return f"{self.source_id}@{self.line_offset}: {self.reason}"
