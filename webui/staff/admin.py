"""The read-only admin over the event tables, built to stay fast on 100M rows.

Rules kept here, because each one is what stands between a click and a full scan:
- never a full COUNT(*): the paginator counts at most COUNT_CAP rows, and the admin does not
  ask for the unfiltered total (show_full_result_count = False);
- a search is an EXACT match on one indexed column, never icontains across columns:
  account = q (the primary key (account, ts, id)), ip = q (event_ip_ts_idx), message_id = q
  (the hash index event_message_id_idx);
- without a search the list shows one day (today, or the day chosen), newest first: a
  backward walk of the index on ts that stops after one page, whatever the day holds;
- filter choices come from constants or the small source table, never a DISTINCT over events;
- no detail page for an event: its URL would carry only id, which no index serves;
- ingest is the only writer: no add, change or delete anywhere, no actions;
- values from a log are shown through webui.records.display.value_html (escaped, invisible
  characters as markers, overlong ones cut with the whole value in a <details>); nothing else
  is marked safe.
Every page of events shown is an audited staff lookup of the accounts on it (webui.staff.audit).
The bad-lines admin shows raw lines, which hold accounts, folders and Message-IDs: it needs the
same permission, and each list page or line page shown is audited (see BadLineAdmin).
"""

from __future__ import annotations

import ipaddress
from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from webui.records.display import value_html, visible
from webui.records.models import BadLine, Event, Source
from webui.records.queries import message_id_forms
from webui.records.types import client_text
from webui.staff.audit import accounts_in_lines, record_lookups
from webui.staff.models import LOOK_PERMISSION, StaffLookup

COUNT_CAP = 10_000  # rows counted at most; more is "10000": narrow the search to see further

# The values the event table's check constraints allow (alembic migration 0001).
PROTOCOLS = ("pop3", "imap", "submission", "sieve", "lmtp", "doveadm", "auth")
KINDS = (
    "login", "logout", "auth_fail", "message_delete", "mailbox_delete",
    "mailbox_rename", "mailbox_create", "flag_delete", "undelete", "copy", "save",
)  # fmt: skip


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: SELECT count(*) FROM (… LIMIT cap), bounded work at any size."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:COUNT_CAP].count()


def refuse_nul(request: HttpRequest) -> None:
    """A 400 for a NUL anywhere in the query: PostgreSQL refuses it in text, mid-query, as a 500."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise BadRequest(f"the parameter {key.replace(chr(0), '?')!r} holds a NUL character")


class BoundedChangeList(ChangeList):
    """A changelist whose date filters answer an out-of-range date like any malformed one."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as exc:  # date_hierarchy's "next day" of 9999-12-31
            raise IncorrectLookupParameters(exc) from None


class ReadOnlyAdmin(admin.ModelAdmin):
    """No writes; every filter's input checked before it reaches the database (see refuse_nul)."""

    actions = None

    def get_changelist(self, request: HttpRequest, **kwargs):
        return BoundedChangeList

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        refuse_nul(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        refuse_nul(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def log_column(field: str, description: str):
    """A changelist column of a log value: escaped, invisible characters shown, overlong ones cut."""

    @admin.display(description=description)
    def column(obj) -> SafeString:
        value = getattr(obj, field)
        return mark_safe(value_html(value)) if value not in (None, "") else "-"  # value_html escapes

    column.__name__ = f"{field}_shown"
    return column


@admin.display(description=_("client"))
def client_column(obj) -> SafeString | str:
    """What the session's IMAP client said it is (types.client_text), shown like a log value."""
    said = client_text(obj.client_name, obj.client_version, obj.client_os, obj.client_vendor)
    return mark_safe(value_html(said)) if said else "-"  # value_html escapes


# --- event filters ---------------------------------------------------------------------


class ValueFilter(admin.SimpleListFilter):
    """Choices from a fixed list of values: a DISTINCT over the events would read them all."""

    values: tuple[str, ...] = ()

    def lookups(self, request, model_admin):
        return [(v, v) for v in self.values]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value is not None else queryset


class ProtocolFilter(ValueFilter):
    title = _("protocol")
    parameter_name = "protocol"
    values = PROTOCOLS


class KindFilter(ValueFilter):
    title = _("kind")
    parameter_name = "kind"
    values = KINDS


class HostFilter(ValueFilter):
    title = _("host")
    parameter_name = "host"

    def lookups(self, request, model_admin):
        # the small source table knows every host; a DISTINCT over events would scan them all
        hosts = list(
            Source.objects.exclude(host="").values_list("host", flat=True).distinct().order_by("host")[:200]
        )
        if self.value() is not None and self.value() not in hosts:
            hosts.append(self.value())  # a filter without choices would not be applied at all
        return [(h, h) for h in hosts]


def day_range(day: date) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) in the current time zone."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def chosen_range(request: HttpRequest) -> tuple[datetime, datetime] | None:
    """The half-open time range listed: ?day=YYYY-MM-DD; any time for a search; else today.

    Worked out once per request, so that the audit records exactly the range shown.
    """
    if hasattr(request, "_staff_range"):
        return request._staff_range
    raw = request.GET.get(DayFilter.parameter_name)
    if raw:
        try:
            chosen = day_range(date.fromisoformat(raw))
        except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
            raise IncorrectLookupParameters(f"day must be YYYY-MM-DD, got {raw!r}") from None  # "?e=1"
    elif request.GET.get("q", "").strip():
        chosen = None
    else:
        chosen = day_range(timezone.localdate())
    request._staff_range = chosen
    return chosen


class DayFilter(admin.SimpleListFilter):
    title = _("day")
    parameter_name = "day"

    def lookups(self, request, model_admin):
        today = timezone.localdate()
        days = [today - timedelta(days=n) for n in range(8)]
        return [(d.isoformat(), d.strftime("%Y-%m-%d %a")) for d in days]

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["query_string"] == changelist.get_query_string(remove=[self.parameter_name]):
                choice["display"] = _("today, or any day with a search")
            yield choice

    def queryset(self, request, queryset):
        chosen = chosen_range(request)
        if chosen is None:
            return queryset
        return queryset.filter(ts__gte=chosen[0], ts__lt=chosen[1])


# --- search ----------------------------------------------------------------------------


def search_filter(term: str) -> tuple[str, Q]:
    """(column, exact filter) for a search term; each column has its own index.

    `account:x`, `ip:x`, `msgid:x` say which column; otherwise an IP address searches ip,
    `<…>` searches message_id, and anything else is an account unless some event has it
    as its Message-ID (one probe of the hash index).
    """
    prefix, sep, rest = term.partition(":")
    prefix = prefix.strip().lower()
    if sep and prefix in ("account", "user"):
        return "account", Q(account=rest.strip())
    if sep and prefix == "ip":
        return "ip", Q(ip=str(ipaddress.ip_address(rest.strip())))
    if sep and prefix in ("msgid", "message-id", "message_id"):
        full, core = message_id_forms(rest)
        return "message_id", Q(message_id=full) | Q(message_id=core)
    try:
        return "ip", Q(ip=str(ipaddress.ip_address(term)))
    except ValueError:
        pass
    full, core = message_id_forms(term)
    by_message_id = Q(message_id=full) | Q(message_id=core)
    if term.startswith("<") or Event.objects.filter(by_message_id).exists():
        return "message_id", by_message_id
    return "account", Q(account=term)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    # 50 rows of 12 plain columns: rendering, not the database, is most of a page's time
    # (bench/admin.py), so the page is kept to what a help desk reads at a glance.
    list_display = (
        "ts", log_column("host", _("host")), "protocol", "kind", log_column("account", _("account")), "ip",
        client_column,
        log_column("mailbox", _("mailbox")), log_column("message_id", _("message id")), "deleted", "size",
        log_column("reason", _("reason")),
    )  # fmt: skip
    list_display_links = None
    list_filter = (DayFilter, ProtocolFilter, KindFilter, HostFilter)
    search_fields = ("account",)  # shows the search box; the search itself is get_search_results
    search_help_text = _(
        "Exact account, IP address or Message-ID (or account:…, ip:…, msgid:…). "
        "Without a search, today or the chosen day is listed."
    )
    ordering = ("-ts", "-id")
    sortable_by = ()
    list_per_page = 50
    list_max_show_all = 50
    show_full_result_count = False
    paginator = CappedCountPaginator

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # any mailbox's events: the same permission as the staff search page, and audited like it
        return super().has_view_permission(request, obj) and request.user.has_perm(LOOK_PERMISSION)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            _column, q = search_filter(term)
        except ValueError:
            return queryset.none(), False  # "ip:" followed by something not an address
        return queryset.filter(q), False

    def get_urls(self):
        # the list only: an event's own page would look it up by id alone, which no index serves
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", None) and response.context_data.get("cl")
        if cl is not None:
            accounts = {event.account for event in cl.result_list}  # evaluated once, reused by the template
            if accounts:
                start, end = chosen_range(request) or (None, None)
                record_lookups(request.user, accounts, start, end, StaffLookup.ADMIN, request.GET.urlencode())
        return response


@admin.register(Source)
class SourceAdmin(ReadOnlyAdmin):
    list_display = (
        "path", "host", "byte_offset", "size", "lines", "events", "skipped", "bad_lines",
        "last_event_ts", "updated_at",
    )  # fmt: skip
    ordering = ("path", "id")
    search_fields = ("path",)


@admin.register(BadLine)
class BadLineAdmin(ReadOnlyAdmin):
    """Lines the parser could not read, byte for byte.

    A view is one list page or one line's page answered with 200: it writes one staff-lookup
    row (via "bad_lines") per account the lines shown mention (audit.accounts_in_lines), or
    one row with an empty account when none is recognisable, so that every look is recorded.
    """

    list_display = ("seen_at", "source", "line_offset", "reason", "raw_preview")
    list_select_related = ("source",)
    fields = ("source", "line_offset", "reason", "seen_at", "raw_text", "raw_hex")
    readonly_fields = fields
    ordering = ("-id",)
    show_full_result_count = False
    paginator = CappedCountPaginator

    # The raw line is untrusted bytes: shown as text with undecodable bytes as \x escapes,
    # and as hex; both are plain strings the admin escapes.
    @admin.display(description=_("line"))
    def raw_preview(self, obj: BadLine) -> str:
        text = self.raw_text(obj)
        return text if len(text) <= 200 else text[:200] + "…"

    @admin.display(description=_("line as text"))
    def raw_text(self, obj: BadLine) -> str:
        return visible(bytes(obj.raw).decode("utf-8", "backslashreplace"))

    @admin.display(description=_("line as hex"))
    def raw_hex(self, obj: BadLine) -> str:
        return bytes(obj.raw).hex(" ")

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return super().has_view_permission(request, obj) and request.user.has_perm(LOOK_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", None) and response.context_data.get("cl")
        if response.status_code == 200 and cl is not None:
            self._audit(request, list(cl.result_list))
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", None) and response.context_data.get("original")
        if response.status_code == 200 and original is not None:
            self._audit(request, [original])
        return response

    @staticmethod
    def _audit(request: HttpRequest, lines: list[BadLine]) -> None:
        if not lines:
            return
        accounts = accounts_in_lines(line.raw for line in lines) or {""}
        ids = ",".join(str(line.pk) for line in lines)
        query = f"bad_line ids {ids}; {request.GET.urlencode()}"
        record_lookups(request.user, accounts, None, None, StaffLookup.BAD_LINES, query)


@admin.register(StaffLookup)
class StaffLookupAdmin(ReadOnlyAdmin):
    list_display = (
        "at", "staff_username", "staff_role", log_column("account", _("account looked at")), "start", "end", "via",
        log_column("query", _("query")),
    )  # fmt: skip
    list_filter = ("via",)
    search_fields = ("=account", "=staff_username")
    date_hierarchy = "at"
