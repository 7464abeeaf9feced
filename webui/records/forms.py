"""Forms of the records pages: the period (date, range, hidden types, page cursor) and the search."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from webui.records.queries import MAX_DAYS, Cursor, period_bounds
from webui.records.types import ALL_TYPES

EARLIEST = date(1990, 1, 1)  # no mail log is older; keeps datetime arithmetic far from its edges


class DateInput(forms.DateInput):
    input_type = "date"  # the browser's own date picker

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


@dataclass(frozen=True)
class Period:
    """A validated request of the day view: days first..last (inclusive) in the user's zone."""

    first: date
    last: date
    hidden: frozenset[str] = frozenset()
    after: Cursor | None = None
    today: date = field(default_factory=timezone.localdate)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return period_bounds(self.first, self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def query(self, *, first: date | None = None, last: date | None = None, hidden=None, after=None) -> str:
        """The query string of this period with some parts replaced (no cursor unless given)."""
        first = first or self.first
        last = last or self.last
        params: list[tuple[str, str]] = [("date", first.isoformat())]
        if last != first:
            params.append(("end", last.isoformat()))
        for key in sorted(self.hidden if hidden is None else hidden):
            params.append(("hide", key))
        if after is not None:
            params.append(("after", after.encode()))
        return "?" + urlencode(params)

    def shifted(self, direction: int) -> str | None:
        """The query of the same-length period before (-1) or after (+1); None if in the future."""
        step = timedelta(days=self.days * direction)
        first, last = self.first + step, self.last + step
        if first > self.today:
            return None
        return self.query(first=first, last=min(last, self.today))

    def toggled(self, key: str) -> str:
        return self.query(hidden=self.hidden ^ {key})


class PeriodForm(forms.Form):
    max_days = MAX_DAYS
    date = forms.DateField(label=_("Date"), required=False, widget=DateInput())
    end = forms.DateField(label=_("to"), required=False, widget=DateInput())
    hide = forms.MultipleChoiceField(
        label=_("Hidden types"),
        required=False,
        choices=[(t.key, t.label) for t in ALL_TYPES],
        widget=forms.MultipleHiddenInput,
    )
    after = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_after(self) -> Cursor | None:
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return Cursor.decode(text)
        except ValueError:
            raise forms.ValidationError(
                _("The page link is damaged; start again from the first page.")
            ) from None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        today = timezone.localdate()
        first = data.get("date") or today
        last = data.get("end") or first
        if first < EARLIEST or last < EARLIEST:
            raise forms.ValidationError(_("Records begin in %(year)s.") % {"year": EARLIEST.year})
        if first > today or last > today:
            raise forms.ValidationError(_("The date is in the future: there are no records yet."))
        if last < first:
            raise forms.ValidationError(_("The end date is before the start date."))
        if (last - first).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("A range may cover at most %(days)s days.") % {"days": MAX_DAYS})
        data["period"] = Period(first, last, frozenset(data.get("hide") or ()), data.get("after"), today)
        return data


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Message-ID"),
        max_length=998,  # RFC 5322's line limit; a Message-ID cannot be longer
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "<1234.5678@example.org>", "size": 48}),
    )


class LookupsForm(forms.Form):
    """The page of the owner's staff-lookups list: the lookups before a day (keyset by day)."""

    before = forms.DateField(required=False)

    def clean_before(self) -> date | None:
        before = self.cleaned_data["before"]
        if before is not None and not EARLIEST <= before <= timezone.localdate() + timedelta(days=1):
            raise forms.ValidationError(_("The page link is damaged; start again from the first page."))
        return before
