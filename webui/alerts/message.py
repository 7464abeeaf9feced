"""An alert as a plain-text e-mail in the owner's language, built from untrusted logged values.

Every value that came from a log (IP, client name, the account itself) is untrusted: it goes
into the plain-text body only, bounded and with control and bidi characters spelled out, and
never into a header — the subject is fixed text per rule, the address a validated field.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from webui.alerts.models import RULE_FAILED_SIGNINS, RULE_MASS_DELETE, RULE_NEW_SIGNIN, Alert, Subscription

UNSUBSCRIBE_SALT = "mailtrail.alerts.unsubscribe"
VALUE_LIMIT = 120


def shown(value: object, limit: int = VALUE_LIMIT) -> str:
    """A logged value made safe for one line of plain text: bounded, controls spelled as \\xNN."""
    text = "" if value is None else str(value)
    out = []
    for char in text[: limit * 2]:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def unsubscribe_token(subscription: Subscription) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(subscription.token)


def site_domain() -> str:
    return urlsplit(settings.MAILTRAIL_SITE_URL).hostname or "mailtrail.invalid"


def new_message_id() -> str:
    """A Message-ID chosen when the alert is decided and stored with it: every resend reuses it."""
    import uuid

    return f"<alert.{uuid.uuid4().hex}@{site_domain()}>"


def _subject(rule: str) -> str:
    return {
        RULE_NEW_SIGNIN: _("mailtrail: a sign-in to your mailbox from a new device or network"),
        RULE_FAILED_SIGNINS: _("mailtrail: many failed sign-ins to your mailbox"),
        RULE_MASS_DELETE: _("mailtrail: many messages deleted from a new device or network"),
    }[rule]


def _what(alert: Alert) -> str:
    if alert.rule == RULE_NEW_SIGNIN:
        return _("Your mailbox was signed in to from a device or network not seen in the last 90 days.")
    if alert.rule == RULE_FAILED_SIGNINS:
        return _("There were %(count)d failed sign-ins to your mailbox within an hour.") % {
            "count": alert.count
        }
    return _("One session deleted %(count)d messages, from a device or network first seen that day.") % {
        "count": alert.count
    }


def body(alert: Alert, subscription: Subscription) -> str:
    site = settings.MAILTRAIL_SITE_URL
    local = timezone.localtime(alert.event_ts)
    day_url = site + reverse("records:day") + "?" + urlencode({"date": local.date().isoformat()})
    lines = [
        _("Mailbox: %(account)s") % {"account": shown(alert.account)},
        "",
        _what(alert),
        "",
        _("When: %(time)s (%(zone)s)")
        % {"time": local.strftime("%Y-%m-%d %H:%M:%S"), "zone": settings.TIME_ZONE},
        _("From IP: %(ip)s") % {"ip": shown(alert.ip) if alert.ip else _("not in the log")},
    ]
    if alert.protocol == "pop3":
        lines.append(_("Client: %(client)s") % {"client": _("POP3 client")})
    elif alert.client:
        lines.append(_("Client: %(client)s") % {"client": shown(alert.client)})
    lines += [
        "",
        _("If this was you, there is nothing to do."),
        _("If it was not, change your mail password now and tell your mail administrator."),
        "",
        _("See the day on your access record (sign in there as usual):"),
        day_url,
        "",
        _("Stop these alerts:"),
        unsubscribe_url(subscription),
    ]
    return "\n".join(lines) + "\n"


def unsubscribe_url(subscription: Subscription) -> str:
    return settings.MAILTRAIL_SITE_URL + reverse("alerts:unsubscribe", args=[unsubscribe_token(subscription)])


def build(alert: Alert, subscription: Subscription) -> EmailMessage:
    """The alert's e-mail, in the language the owner opted in with."""
    with translation.override(alert.language), timezone.override(settings.TIME_ZONE):
        message = EmailMessage(
            subject=_subject(alert.rule),
            body=body(alert, subscription),
            to=[alert.to_email],
            headers={
                "Message-ID": alert.message_id,
                # RFC 8058 one-click unsubscribe: the mail client POSTs to this URL
                "List-Unsubscribe": f"<{unsubscribe_url(subscription)}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation replies
            },
        )
    return message
