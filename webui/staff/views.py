"""The help desk's pages: any account's day view and export, each look written to the audit trail first."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webui.records.forms import SearchForm
from webui.records.views import day_context, export_response, timeline_response
from webui.staff.audit import record_lookups
from webui.staff.forms import StaffSearchForm
from webui.staff.models import LOOK_PERMISSION, StaffLookup

TIMELINE_SALT = "webui.staff.timeline"
TIMELINE_MAX_AGE = 3600  # seconds a page's timeline link stays valid


def staff_only(view):
    """Signed in (as staff, through the admin's sign-in) and holding LOOK_PERMISSION; else 403, nothing read.

    Never cached (Cache-Control: no-store), like the owner's pages.
    """
    view = permission_required(LOOK_PERMISSION, raise_exception=True)(view)
    return never_cache(require_GET(login_required(view, login_url=reverse_lazy("admin:login"))))


def _with_account(query: str | None, account: str) -> str | None:
    return None if query is None else f"{query}&{urlencode({'account': account})}"


@staff_only
def search(request: HttpRequest) -> HttpResponse:
    form = StaffSearchForm(request.GET if "account" in request.GET else None)
    context: dict = {"form": form, "search_form": SearchForm()}
    if not (form.is_bound and form.is_valid()):
        return render(request, "staff/search.html", context, status=400 if form.errors else 200)
    account, period = form.cleaned_data["account"], form.cleaned_data["period"]
    start, end = period.bounds
    # Audited before anything is read, in its own (autocommit) statement: a look that fails
    # half-way, or times out, is still on the record.
    record_lookups(request.user, [account], start, end, StaffLookup.SEARCH, request.GET.urlencode())
    context.update(day_context(account, period))
    for key in ("next_page", "first_page", "previous", "next", "today_link", "plain_query"):
        context[key] = _with_account(context[key], account)
    for entry in context["legend"]:
        entry["url"] = _with_account(entry["url"], account)
    # The timeline image belongs to this audited look: its link carries a signed, short-lived
    # reference instead of a second audit row.
    token = signing.dumps({"account": account, "query": context["plain_query"]}, salt=TIMELINE_SALT)
    context["timeline_token"] = token
    context["timeline_src"] = reverse("staff:timeline") + "?" + urlencode({"t": token})
    return render(request, "staff/search.html", context)


@staff_only
def export_csv(request: HttpRequest) -> HttpResponse:
    form = StaffSearchForm(request.GET)
    if not form.is_valid():
        return HttpResponse("bad request", status=400, content_type="text/plain")
    account, period = form.cleaned_data["account"], form.cleaned_data["period"]
    start, end = period.bounds
    record_lookups(request.user, [account], start, end, StaffLookup.EXPORT, request.GET.urlencode())
    return export_response(account, period)


@staff_only
def timeline_svg(request: HttpRequest) -> HttpResponse:
    try:
        ref = signing.loads(request.GET.get("t", ""), salt=TIMELINE_SALT, max_age=TIMELINE_MAX_AGE)
    except signing.BadSignature:
        return HttpResponse(status=400)
    form = StaffSearchForm(QueryDict(ref["query"].lstrip("?")))
    if not form.is_valid() or form.cleaned_data["account"] != ref["account"]:
        return HttpResponse(status=400)
    return timeline_response(ref["account"], form.cleaned_data["period"])
