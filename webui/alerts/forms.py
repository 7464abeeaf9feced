"""The owner's alert settings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SubscriptionForm(forms.Form):
    email = forms.EmailField(label=_("Send alerts to"), max_length=254)
    new_signin = forms.BooleanField(
        label=_("a sign-in from a device or network not seen in the last 90 days"), required=False
    )
    failed_signins = forms.BooleanField(label=_("many failed sign-ins within an hour"), required=False)
    mass_delete = forms.BooleanField(
        label=_("many messages deleted in one session from a device or network first seen that day"),
        required=False,
    )

    def clean(self):
        data = super().clean()
        if not any(data.get(rule) for rule in ("new_signin", "failed_signins", "mass_delete")):
            raise forms.ValidationError(_("Choose at least one alert, or turn alerts off."))
        return data
