"""Messages of third-party packages shown on our pages, translated in this app's catalogue.

django-simple-captcha ships no zh_Hant catalogue, so its "Invalid CAPTCHA" read in English on
the zh-Hant sign-in page (and the admin's, which has a captcha too); nor does django-axes,
whose tables the admin lists for superusers. Django merges every app's
catalogue: a msgid translated here is translated wherever the package says it. This module is
never imported; makemessages reads it.
"""

from django.utils.translation import gettext_noop

VENDOR_MESSAGES = (
    gettext_noop("Invalid CAPTCHA"),  # captcha.fields.CaptchaField
    # axes.models: the admin's names of its tables
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
)
