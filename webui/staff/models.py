"""The audit trail of staff lookups: who looked at whose records, when, over which range."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Looking at any mailbox's records: the staff search page, the event admin and the bad-lines
# admin all need it.
LOOK_PERMISSION = "staff.view_any_mailbox"


class StaffLookup(models.Model):
    """One staff look at one account's records; written before the records are read.

    Django owns this table (webui_staff_lookup: the `webui_` prefix keeps alembic's
    autogenerate away from it, migrations/env.py). Rows are only ever added: the admin shows
    them read-only, and the owner of the account sees them on their own page.
    """

    SEARCH = "search"
    EXPORT = "export"
    ADMIN = "admin"
    BAD_LINES = "bad_lines"
    VIA_CHOICES = [
        (SEARCH, _("staff search page")),
        (EXPORT, _("staff CSV export")),
        (ADMIN, _("event admin")),
        (BAD_LINES, _("bad-lines admin")),
    ]

    at = models.DateTimeField(_("looked at"), default=timezone.now)
    # Kept as text as well as a link: the record must outlive the staff user's account.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    staff_username = models.CharField(_("staff user name"), max_length=150)
    # What the owner is told instead of the name: the staff member's groups at the time
    # (e.g. "help desk"), "" for staff in no group. Kept as text, like the name.
    staff_role = models.CharField(_("staff role"), max_length=300, blank=True, default="")
    # A look at bad lines names the accounts those lines mention, or "" when none is recognisable.
    account = models.TextField(_("account looked at"))
    # The half-open range [start, end) of the records shown; null means "any time".
    start = models.DateTimeField(_("from"), null=True, blank=True)
    end = models.DateTimeField(_("until"), null=True, blank=True)
    via = models.CharField(_("via"), max_length=16, choices=VIA_CHOICES)
    query = models.TextField(_("query"), blank=True, default="")

    class Meta:
        db_table = "webui_staff_lookup"
        ordering = ["-at", "-id"]
        verbose_name = _("staff lookup")
        verbose_name_plural = _("staff lookups")
        indexes = [models.Index(fields=["account", "-at"], name="webui_staff_lookup_account_at")]
        permissions = [
            ("view_any_mailbox", _("Can look up any mailbox's records (every lookup is recorded)")),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.staff_username} → {self.account}"
