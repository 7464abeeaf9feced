"""The CSV export of the day view: the rows shown, numbered, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from tests.test_records_support import ALICE, alice_day, records_partitions, records_setup, sign_in, today  # noqa: F401
from webui.records.export import safe_cell

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())  # spreadsheets then read UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_it_exports_the_days_rows_as_a_csv_download(client):
    alice_day(today())
    sign_in(client, ALICE)
    response = client.get(reverse("records:export"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="mailtrail-{today():%Y%m%d}.csv"'
    rows = _csv(response)
    assert rows[0][:3] == ["No.", "Time", "Type"]
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(1, 9)]
    logout = next(r for r in rows if r[2] == "POP3 logout")
    assert logout[9:12] == ["1", "12", "5.00"]


def test_it_leaves_out_the_hidden_types_and_keeps_the_range(client):
    alice_day(today() - timedelta(days=1))
    alice_day(today())
    sign_in(client, ALICE)
    response = client.get(
        reverse("records:export"),
        {
            "date": (today() - timedelta(days=1)).isoformat(),
            "end": today().isoformat(),
            "hide": ["imap-login"],
        },
    )
    rows = _csv(response)
    assert len(rows) == 1 + 2 * 7
    assert all(r[4] != "login" or r[3] != "imap" for r in rows[1:])
    assert response["Content-Disposition"].endswith(f'-{today():%Y%m%d}.csv"')


def test_it_answers_a_bad_period_with_400_and_the_reason(client):
    sign_in(client, ALICE)
    response = client.get(reverse("records:export"), {"date": (today() + timedelta(days=2)).isoformat()})
    assert response.status_code == 400
    assert response.content


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "⟨U+0009⟩=1"),  # a control character is shown as a marker, and the cell is text
        ("=1\u202e", "'=1⟨U+202E⟩"),
        ("\u200b=1", "⟨U+200B⟩=1"),
        ("  =1", "'  =1"),
        ("<a@b>", "<a@b>"),
        (None, ""),
        (12, "12"),
    ],
)
def test_it_prefixes_cells_that_a_spreadsheet_would_run(value, cell):
    assert safe_cell(value) == cell


def test_an_export_past_its_row_limit_stops_with_a_line_that_says_so(client):
    from webui.records.export import rows_csv
    from webui.records.queries import period_bounds

    alice_day(today())
    start, end = period_bounds(today(), today())
    with translation.override("en"):
        rows = list(csv.reader(io.StringIO(rows_csv(ALICE, start, end, limit=5).decode("utf-8-sig"))))
        complete = list(csv.reader(io.StringIO(rows_csv(ALICE, start, end, limit=8).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:6]] == ["1", "2", "3", "4", "5"]
    assert rows[6] == ["The export stops here, at 5 rows: choose a shorter period."]
    assert len(rows) == 7
    assert len(complete) == 9 and complete[-1][0] == "8"  # exactly the limit: no notice
