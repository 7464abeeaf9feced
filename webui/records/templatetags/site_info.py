"""`{% site_info as site %}`: the site's organisation and contact (MAILTRAIL_SITE_*) for the footer."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import get_language

register = template.Library()


@register.simple_tag
def site_info() -> dict[str, object]:
    contact = settings.MAILTRAIL_SITE_CONTACT
    try:
        validate_email(contact)
        is_email = True
    except ValidationError:
        is_email = False  # a telephone number, an office, a web address: shown as text
    english = (get_language() or "").startswith("en")
    return {
        "organisation": settings.MAILTRAIL_SITE_ORGANISATION_EN
        if english
        else settings.MAILTRAIL_SITE_ORGANISATION,
        "contact": contact,
        "contact_is_email": is_email,
    }
