"""The staff search form: the owner's period form (webui.records.forms) plus the account to look at."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from webui.records.forms import PeriodForm


class StaffSearchForm(PeriodForm):
    # Dovecot logs the user name as the client sent it; the longest sensible is an address.
    account = forms.CharField(
        label=_("Account"),
        max_length=320,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "alice@example.edu", "size": 32}),
    )
    field_order = ["account", "date", "end", "hide", "after"]
