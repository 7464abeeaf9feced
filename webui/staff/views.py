"""The help desk's pages: any account's day view and export, each look written to the audit trail first."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.base_user import AbstractBaseUser
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
    token = timeline_token(request.user, account, context["plain_query"])
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


# The timeline image of a staff search page is fetched by its own request, through a link
# that names the account. The link is signed (SECRET_KEY) and carries who it was made for,
# which account and period, and when (signing's timestamp): it is refused for another staff
# user, for a changed account or period, and after TIMELINE_MAX_AGE; each use is audited
# like the page itself, so a replayed link still leaves a row.
def timeline_token(user: AbstractBaseUser, account: str, query: str) -> str:
    return signing.dumps({"staff": user.pk, "account": account, "query": query}, salt=TIMELINE_SALT)


@staff_only
def timeline_svg(request: HttpRequest) -> HttpResponse:
    try:
        ref = signing.loads(request.GET.get("t", ""), salt=TIMELINE_SALT, max_age=TIMELINE_MAX_AGE)
    except signing.BadSignature:  # forged, altered or expired (SignatureExpired is a subclass)
        return HttpResponse(status=400)
    if not isinstance(ref, dict) or ref.keys() != {"staff", "account", "query"}:
        return HttpResponse(status=400)
    if ref["staff"] != request.user.pk:
        return HttpResponse(status=403)
    form = StaffSearchForm(QueryDict(str(ref["query"]).lstrip("?")))
    if not form.is_valid() or form.cleaned_data["account"] != ref["account"]:
        return HttpResponse(status=400)
    account, period = ref["account"], form.cleaned_data["period"]
    start, end = period.bounds
    record_lookups(request.user, [account], start, end, StaffLookup.SEARCH, "timeline.svg " + ref["query"])
    return timeline_response(account, period)
