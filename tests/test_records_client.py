"""What a client said it is (IMAP ID), on the owner's pages, the CSV, and the staff admin.

Every client field is written by the client: a hostile one is shown as text, never markup
or a spreadsheet formula. POP3 has no ID: its sign-ins say "POP3 client".
"""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from tests.test_records_support import (  # noqa: F401
    ALICE,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)
from webui.records.queries import ip_summary, period_bounds
from webui.records.types import client_text

pytestmark = pytest.mark.django_db

THUNDERBIRD = {"client_name": "Thunderbird", "client_version": "115.3", "client_os": "Windows",
               "client_vendor": "Mozilla"}  # fmt: skip
HOSTILE = {"client_name": '<script>alert(1)</script>", x="', "client_version": "=HYPERLINK(\"http://x\")",
           "client_os": "\u202egpj.exe"}  # fmt: skip


def alice_clients() -> None:
    day = today()
    insert_event(at(day, "08:00:00"), "imap", "login", ip="140.112.8.9", session="s1", **THUNDERBIRD)
    insert_event(at(day, "08:05:00"), "imap", "logout", ip="140.112.8.9", session="s1", **THUNDERBIRD)
    insert_event(at(day, "09:00:00"), "pop3", "login", ip="140.112.8.10", session="s2")
    insert_event(at(day, "10:00:00"), "imap", "login", ip="203.0.113.7", session="s3", **HOSTILE)
    insert_event(at(day, "10:00:05"), "imap", "auth_fail", ip="203.0.113.8", client_name="K-9 Mail")
    insert_event(at(day, "11:00:00"), "imap", "login", ip="203.0.113.9", session="s4")  # Outlook: no ID


def test_it_says_what_a_client_said_in_one_line() -> None:
    assert client_text("Thunderbird", "115.3", "Windows", "Mozilla") == "Thunderbird 115.3 · Windows"
    assert client_text("iOS Mail", None, "iOS") == "iOS Mail · iOS"
    assert client_text(None, None, None, "Apple Inc.") == "Apple Inc."
    assert client_text(None, None, None, None) == ""


def test_the_login_row_shows_the_client_and_pop3_says_pop3_client(client) -> None:
    alice_clients()
    sign_in(client, ALICE)
    body = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = body[body.index('id="records"') : body.index("</table>", body.index('id="records"'))]
    assert '<span class="detail-label">client</span> Thunderbird 115.3 · Windows</span>' in rows
    assert '<span class="detail-label">client</span> POP3 client</span>' in rows
    assert '<span class="detail-label">client</span> K-9 Mail</span>' in rows  # a failed sign-in's
    assert rows.count("Thunderbird 115.3") == 1  # on the login, not on its logout too


def test_a_hostile_client_is_shown_as_text(client) -> None:
    alice_clients()
    sign_in(client, ALICE)
    body = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;, x=&quot;" in body
    assert "⟨U+202E⟩gpj.exe" in body and "\u202e" not in body


def test_the_owners_page_says_it_in_chinese(client) -> None:
    alice_clients()
    sign_in(client, ALICE)
    body = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert '<span class="detail-label">用戶端</span> POP3 用戶端</span>' in body
    assert '<th scope="col">用戶端</th>' in body


def test_the_ip_summary_names_the_clients_of_each_ip(client) -> None:
    alice_clients()
    with translation.override("en"):
        summary = {s.ip: s for s in ip_summary(ALICE, *period_bounds(today(), today()))}
    assert summary["140.112.8.9"].clients == ["Thunderbird 115.3 · Windows"]
    assert summary["140.112.8.10"].clients == ["POP3 client"]
    assert summary["203.0.113.8"].clients == ["K-9 Mail"]
    assert summary["203.0.113.9"].clients == []
    sign_in(client, ALICE)
    body = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    table = body[body.index('id="ip-summary"') : body.index("</table>", body.index('id="ip-summary"'))]
    assert '<td class="col-client"><span class="client">Thunderbird 115.3 · Windows</span></td>' in table
    assert "&lt;script&gt;" in table and "<script>" not in table


def test_an_ip_whose_client_renames_itself_each_time_lists_five() -> None:
    for n in range(12):
        insert_event(
            at(today(), f"12:00:{n:02d}"), "imap", "login", ip="198.51.100.1", client_name=f"bot {n}"
        )
    (summary,) = ip_summary(ALICE, *period_bounds(today(), today()))
    assert len(summary.clients) == 5


def test_the_csv_has_the_client_columns_and_no_formula(client) -> None:
    alice_clients()
    sign_in(client, ALICE)
    response = client.get(reverse("records:export"), HTTP_ACCEPT_LANGUAGE="en")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][-4:] == ["Client", "Client version", "Client OS", "Client vendor"]
    login = rows[1]
    assert login[-4:] == ["Thunderbird", "115.3", "Windows", "Mozilla"]
    hostile = next(r for r in rows if r[-4].startswith("<script>"))
    assert hostile[-3] == '\'=HYPERLINK("http://x")'  # text, not a formula
    assert hostile[-2] == "⟨U+202E⟩gpj.exe"
