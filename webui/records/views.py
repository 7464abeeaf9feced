"""The mailbox owner's pages: the day view, its CSV export and timeline, the Message-ID search.

Every view reads the account from the signed-in owner (mailbox_account, behind
owner_required) and from nothing else: no URL or form parameter names an account. Staff
pages reuse `day_context`, `export_response` and `timeline_response` with an account of
their choosing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webui.accounts import mailbox_account
from webui.accounts.decorators import owner_required
from webui.records import export, svg
from webui.records.forms import LookupsForm, Period, PeriodForm, SearchForm
from webui.records.queries import (
    day_rows,
    freshness,
    ip_summary,
    search_message_id,
    sessions,
    types_present,
)
from webui.records.types import ALL_TYPES
from webui.staff import lookup_days_of


def day_context(account: str, period: Period) -> dict:
    """Everything the day view shows for `account` over `period` (rows, summary, freshness…)."""
    start, end = period.bounds
    page = day_rows(account, start, end, period.hidden, period.after)
    summary = ip_summary(account, start, end) if period.after is None else None
    fresh = freshness()
    # the legend lists the period's types first; the others follow, dimmed
    present = types_present(account, start, end)
    legend = [
        {"type": t, "hidden": t.key in period.hidden, "url": period.toggled(t.key), "present": t in present}
        for t in (*present, *(t for t in ALL_TYPES if t not in present))
    ]
    return {
        "account": account,
        "period": period,
        "rows": page.rows,
        "next_page": period.query(after=page.next_cursor) if page.next_cursor else None,
        "first_page": period.query() if period.after is not None else None,
        "summary": summary,
        "freshness": fresh,
        "legend": legend,
        "legend_present": len(present),
        "time_zone": timezone.get_current_timezone_name(),
        "show_date": period.days > 1,
        "previous": period.shifted(-1),
        "next": period.shifted(+1),
        "today_link": Period(period.today, period.today, period.hidden, None, period.today).query(),
        "is_today": period.first == period.last == period.today,
        "plain_query": period.query(),
    }


def _period(request: HttpRequest) -> tuple[PeriodForm, Period | None]:
    form = PeriodForm(request.GET)
    return form, (form.cleaned_data["period"] if form.is_valid() else None)


@never_cache  # Cache-Control: no-store: a mailbox's records stay out of shared and browser caches
@require_GET
@owner_required
def day(request: HttpRequest) -> HttpResponse:
    account = mailbox_account(request)
    form, period = _period(request)
    if period is None:
        context = {
            "account": account, "form": form, "search_form": SearchForm(),
            "date_value": request.GET.get("date", ""), "end_value": request.GET.get("end", ""),
        }  # fmt: skip
        return render(request, "records/day.html", context, status=400)
    context = day_context(account, period)
    # the inputs show the period answered, today included when no date was given
    context["form"] = form
    context["date_value"] = period.first.isoformat()
    context["end_value"] = period.last.isoformat() if period.days > 1 else ""
    context["search_form"] = SearchForm()
    # The owner is told when help-desk staff looked at their records (not who): every lookup,
    # one line per day and staff role, the newest days here and the rest a page at a time.
    context["lookup_days"], context["lookups_before"] = lookup_days_of(account)
    return render(request, "records/day.html", context)


def export_response(account: str, period: Period) -> HttpResponse:
    """The period's rows (without its hidden types) as a CSV download."""
    start, end = period.bounds
    body = export.rows_csv(account, start, end, period.hidden)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"mailtrail-{period.first:%Y%m%d}" + (f"-{period.last:%Y%m%d}" if period.days > 1 else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def timeline_response(account: str, period: Period) -> HttpResponse:
    """The SVG picture of the period's sessions per IP."""
    start, end = period.bounds
    spans = sessions(account, start, end)
    body = svg.timeline(spans, start, end, title=account)
    response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
    # served as an image; should a browser open it as a document, nothing in it may run
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def _owner_period_view(build):
    """A GET view answering `build(<the signed-in user's account>, <the requested period>)`."""

    @never_cache
    @require_GET
    @owner_required
    def view(request: HttpRequest) -> HttpResponse:
        form, period = _period(request)
        if period is None:
            errors = [str(e) for e in form.non_field_errors()] + [
                f"{name}: {e}" for name, errs in form.errors.items() if name != "__all__" for e in errs
            ]
            return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")
        return build(mailbox_account(request), period)

    return view


export_csv = _owner_period_view(export_response)
timeline_svg = _owner_period_view(timeline_response)


@never_cache
@require_GET
@owner_required
def staff_lookups(request: HttpRequest) -> HttpResponse:
    """Every staff lookup of the owner's records, one line per day and staff role, paged by day."""
    account = mailbox_account(request)
    form = LookupsForm(request.GET)
    if not form.is_valid():
        return render(request, "records/lookups.html", {"account": account, "form": form}, status=400)
    lines, before = lookup_days_of(account, form.cleaned_data["before"])
    context = {
        "account": account,
        "form": form,
        "lookup_days": lines,
        "lookups_before": before,
        "paged": True,
    }
    return render(request, "records/lookups.html", context)


@never_cache
@require_GET
@owner_required
def search(request: HttpRequest) -> HttpResponse:
    account = mailbox_account(request)
    form = SearchForm(request.GET if "q" in request.GET else None)
    rows = None
    if form.is_bound and form.is_valid():
        rows = search_message_id(account, form.cleaned_data["q"])
    context = {"account": account, "search_form": form, "rows": rows, "show_date": True}
    return render(request, "records/search.html", context, status=400 if form.errors else 200)
