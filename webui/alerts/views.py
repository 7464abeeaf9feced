"""The owner's alert settings page, and the one-click unsubscribe link of every alert."""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from webui.accounts import mailbox_account
from webui.accounts.decorators import owner_required
from webui.alerts.forms import SubscriptionForm
from webui.alerts.message import UNSUBSCRIBE_SALT
from webui.alerts.models import Subscription, new_token


def _default_email(account: str) -> str:
    return account if "@" in account else ""


@require_http_methods(["GET", "POST"])
@owner_required
def alert_settings(request: HttpRequest) -> HttpResponse:
    account = mailbox_account(request)
    subscription = Subscription.objects.filter(account=account).first()
    active = bool(subscription and subscription.active)
    if request.method == "POST" and request.POST.get("action") == "off":
        Subscription.objects.filter(account=account).update(active=False, unsubscribed_at=timezone.now())
        return redirect("alerts:settings")
    if request.method == "POST":
        form = SubscriptionForm(request.POST)
        if form.is_valid():
            values = {**form.cleaned_data, "language": get_language(), "active": True}
            if not active:  # a new opt-in: a new unsubscribe token, and only events from now on
                values.update(
                    token=new_token(), opted_in_at=timezone.now(), unsubscribed_at=None, seen_seeded=False
                )
            Subscription.objects.update_or_create(account=account, defaults=values)
            return redirect("alerts:settings")
    elif active:
        form = SubscriptionForm(
            initial={
                "email": subscription.email, "new_signin": subscription.new_signin,
                "failed_signins": subscription.failed_signins, "mass_delete": subscription.mass_delete,
            }
        )  # fmt: skip
    else:
        form = SubscriptionForm(
            initial={
                "email": _default_email(account),
                "new_signin": True,
                "failed_signins": True,
                "mass_delete": True,
            }
        )
    context = {"form": form, "account": account, "active": active, "subscription": subscription}
    return render(request, "alerts/settings.html", context)


def _subscription_of(token: str) -> Subscription:
    try:
        raw = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        raise Http404 from None
    subscription = Subscription.objects.filter(token=raw).first()
    if subscription is None:
        raise Http404
    return subscription


# CSRF-exempt on purpose: RFC 8058's one-click unsubscribe is a POST that the recipient's
# mail provider sends without our cookies. The signed token is the credential, and the only
# thing it can do is turn alerts off; it signs no one in and shows no records.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscription = _subscription_of(token)
    # in the language of the alert that carried the link, whatever the browser prefers
    with translation.override(subscription.language):
        if request.method == "POST":
            if subscription.active:
                subscription.active = False
                subscription.unsubscribed_at = timezone.now()
                subscription.save(update_fields=["active", "unsubscribed_at"])
            return render(request, "alerts/unsubscribed.html")
        return render(request, "alerts/unsubscribe.html", {"active": subscription.active})
