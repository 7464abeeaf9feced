"""Unmanaged models over alembic's tables (ingest/schema.py); tests/test_models_drift.py keeps them honest."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """One row of the partitioned event table. Read-only here: the ingester is the only writer."""

    # The table's primary key is (account, ts, id); id alone is unique (one sequence) and is
    # what Django needs to name a row.
    id = models.BigIntegerField(primary_key=True)
    ts = models.DateTimeField(_("time"))
    host = models.TextField(_("host"))
    protocol = models.TextField(_("protocol"))
    kind = models.TextField(_("kind"))
    account = models.TextField(_("account"))
    ip = models.GenericIPAddressField(_("IP"), null=True)
    session = models.TextField(_("session"), null=True)
    pid = models.IntegerField(_("process id"), null=True)
    deleted = models.IntegerField(_("deleted"), null=True)
    messages = models.IntegerField(_("messages"), null=True)
    size = models.BigIntegerField(_("size"), null=True)
    deleted_bytes = models.BigIntegerField(_("bytes deleted"), null=True)
    expunged = models.IntegerField(_("expunged"), null=True)
    trashed = models.IntegerField(_("trashed"), null=True)
    bytes_in = models.BigIntegerField(_("bytes in"), null=True)
    bytes_out = models.BigIntegerField(_("bytes out"), null=True)
    mailbox = models.TextField(_("folder"), null=True)
    mailbox_to = models.TextField(_("to folder"), null=True)
    message_id = models.TextField(_("Message-ID"), null=True)
    uid = models.BigIntegerField(_("UID"), null=True)
    attempts = models.IntegerField(_("attempts"), null=True)
    reason = models.TextField(_("reason"), null=True)
    client_name = models.TextField(_("client"), null=True)
    client_version = models.TextField(_("client version"), null=True)
    client_os = models.TextField(_("client OS"), null=True)
    client_vendor = models.TextField(_("client vendor"), null=True)
    source_id = models.IntegerField()
    line_offset = models.BigIntegerField(_("line offset"))

    class Meta:
        managed = False
        db_table = "event"
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["ts", "id"]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.protocol} {self.kind} {self.account}"


class Source(models.Model):
    """A log file the ingester has read, known by its fingerprint; byte_offset is its checkpoint."""

    id = models.IntegerField(primary_key=True)
    fingerprint = models.TextField(_("fingerprint"), unique=True)
    path = models.TextField(_("path"))
    host = models.TextField(_("host"))
    byte_offset = models.BigIntegerField(_("byte offset"))
    size = models.BigIntegerField(_("size"))
    lines = models.BigIntegerField(_("lines"))
    events = models.BigIntegerField(_("events"))
    skipped = models.BigIntegerField(_("skipped"))
    bad_lines = models.BigIntegerField(_("bad lines"))
    year = models.IntegerField(_("year"), null=True)
    month = models.IntegerField(_("month"), null=True)
    last_event_ts = models.DateTimeField(_("last event"), null=True)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        managed = False
        db_table = "source"
        verbose_name = _("log file")
        verbose_name_plural = _("log files")

    def __str__(self) -> str:
        return self.path


class BadLine(models.Model):
    """A line that looked like Dovecot but could not be read, kept byte for byte."""

    id = models.BigIntegerField(primary_key=True)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.DO_NOTHING, db_constraint=False
    )
    line_offset = models.BigIntegerField(_("line offset"))
    raw = models.BinaryField(_("line"))
    reason = models.TextField(_("reason"))
    seen_at = models.DateTimeField(_("seen"))

    class Meta:
        managed = False
        db_table = "bad_line"
        verbose_name = _("unreadable line")
        verbose_name_plural = _("unreadable lines")

    def __str__(self) -> str:
        return f"{self.source_id}@{self.line_offset}: {self.reason}"
