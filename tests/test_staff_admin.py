"""The event admin: exact searches on indexed columns, one day by default, no count, read-only, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from tests.test_staff_support import (
    ALICE,
    ALICE_IP,
    BOB,
    BOB_IP,
    alice_and_bob,
    insert_event,
    recent,
    staff_user,
)
from webui.records.models import BadLine, Source
from webui.staff import lookups_of
from webui.staff.models import StaffLookup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]

CHANGELIST = "admin:records_event_changelist"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False  # the HTTPS redirect is tested with the settings


@pytest.fixture
def carol(client):
    """Carol runs the help desk: she may view events in the admin."""
    client.force_login(staff_user("carol", may_look=True, admin_events=True))
    return client


@pytest.fixture
def events():
    return alice_and_bob()


def listed(response) -> list[int]:
    return [event.id for event in response.context["cl"].result_list]


def test_it_finds_an_account_by_exact_name_only(carol, events):
    response = carol.get(reverse(CHANGELIST), {"q": ALICE})
    assert response.status_code == 200
    assert listed(response) == [events["alice_delete"], events["alice_login"]]  # newest first
    assert listed(carol.get(reverse(CHANGELIST), {"q": "alice"})) == []  # no substring match


def test_it_finds_an_ip_and_a_message_id_with_or_without_brackets(carol, events):
    assert listed(carol.get(reverse(CHANGELIST), {"q": BOB_IP})) == [events["bob_login"]]
    for q in ("<one@example.org>", "one@example.org", "msgid:one@example.org"):
        assert listed(carol.get(reverse(CHANGELIST), {"q": q})) == [events["alice_delete"]], q
    assert listed(carol.get(reverse(CHANGELIST), {"q": "ip:not-an-ip"})) == []


def test_it_lists_only_today_without_a_search_and_any_day_with_one(carol, events):
    old = insert_event(recent() - timedelta(days=3), ALICE, ip=ALICE_IP)
    assert old not in listed(carol.get(reverse(CHANGELIST)))
    assert old in listed(carol.get(reverse(CHANGELIST), {"q": ALICE}))
    day = (recent() - timedelta(days=3)).date().isoformat()
    assert listed(carol.get(reverse(CHANGELIST), {"day": day})) == [old]


def test_it_filters_by_protocol_kind_and_host(carol, events):
    url = reverse(CHANGELIST)
    assert listed(carol.get(url, {"kind": "auth_fail"})) == [events["bob_login"]]
    assert listed(carol.get(url, {"kind": "login", "protocol": "imap"})) == [events["alice_login"]]
    assert listed(carol.get(url, {"host": "mx2"})) == []
    assert carol.get(url, {"day": "not-a-day"}).status_code == 302  # the admin's "?e=1" answer


def test_it_never_counts_more_than_the_cap(carol, events):
    with CaptureQueriesContext(connection) as ctx:
        carol.get(reverse(CHANGELIST), {"q": ALICE})
        carol.get(reverse(CHANGELIST))
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator counts something"
    for sql in counts:
        assert "LIMIT 10000" in sql, sql


def test_it_searches_with_equality_and_never_with_like(carol, events):
    with CaptureQueriesContext(connection) as ctx:
        for q in (ALICE, BOB_IP, "<one@example.org>"):
            carol.get(reverse(CHANGELIST), {"q": q})
    event_queries = [q["sql"] for q in ctx.captured_queries if '"event"' in q["sql"]]
    assert event_queries
    assert not [sql for sql in event_queries if " LIKE " in sql.upper()]


def test_it_escapes_values_written_by_the_log(carol):
    insert_event(
        recent(), ALICE, "message_delete", message_id="<script>alert(1)</script>", mailbox="<b>x</b>"
    )
    body = carol.get(reverse(CHANGELIST), {"q": ALICE}).content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body


def test_it_is_read_only(carol, events):
    with pytest.raises(NoReverseMatch):
        reverse("admin:records_event_add")
    with pytest.raises(NoReverseMatch):
        reverse("admin:records_event_change", args=[events["alice_login"]])
    body = carol.get(reverse(CHANGELIST)).content.decode()
    assert "addlink" not in body
    assert 'name="action"' not in body
    response = carol.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [events["bob_login"]]}
    )
    assert response.status_code in (302, 403, 200)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM event")
        assert cur.fetchone()[0] == 3


def test_it_records_every_account_on_a_page_as_a_staff_lookup(carol, events):
    carol.get(reverse(CHANGELIST), {"q": ALICE_IP})
    (row,) = StaffLookup.objects.all()
    assert (row.staff_username, row.account, row.via, row.start) == ("carol", ALICE, "admin", None)
    carol.get(reverse(CHANGELIST))
    assert sorted(StaffLookup.objects.filter(start__isnull=False).values_list("account", flat=True)) == [
        ALICE,
        BOB,
    ]
    assert [seen.start for seen in lookups_of(BOB)][0] is not None


def test_a_staff_user_without_the_view_permission_gets_nothing(client, events):
    client.force_login(staff_user("dave", may_look=False))
    response = client.get(reverse(CHANGELIST), {"q": ALICE})
    assert response.status_code == 403
    assert ALICE not in response.content.decode()
    assert not StaffLookup.objects.exists()


def test_viewing_events_also_needs_the_look_up_any_mailbox_permission(client, events):
    client.force_login(staff_user("erin", may_look=False, admin_events=True))
    assert client.get(reverse(CHANGELIST), {"q": ALICE}).status_code == 403
    assert not StaffLookup.objects.exists()


def test_it_shows_a_bad_line_as_escaped_text_and_hex(carol):
    with connection.cursor() as cur:
        cur.execute("INSERT INTO source (fingerprint, path) VALUES ('fp', '/var/log/mail.log') RETURNING id")
        source_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO bad_line (source_id, line_offset, raw, reason) VALUES (%s, 7, %s, 'undecodable')",
            [source_id, b"<script>\xff\xfe</script>"],
        )
    bad = BadLine.objects.get()
    body = carol.get(reverse("admin:records_badline_change", args=[bad.pk])).content.decode()
    assert "&lt;script&gt;\\xff\\xfe&lt;/script&gt;" in body
    assert "3c 73 63 72" in body
    assert "<script>" not in body.split("</head>", 1)[1].replace("<script src", "")
    listing = carol.get(reverse("admin:records_badline_changelist")).content.decode()
    assert "&lt;script&gt;" in listing
    assert Source.objects.count() == 1


def insert_bad_lines(*raws: bytes) -> list[int]:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO source (fingerprint, path) VALUES ('fp2', '/var/log/mail.log') RETURNING id")
        source_id = cur.fetchone()[0]
        ids = []
        for offset, raw in enumerate(raws):
            cur.execute(
                "INSERT INTO bad_line (source_id, line_offset, raw, reason) VALUES (%s, %s, %s, 'odd') RETURNING id",
                [source_id, offset, raw],
            )
            ids.append(cur.fetchone()[0])
    return ids


ALICE_BAD = b"Nov 27 06:11:11 imap-login: Login: user=<alice@example.edu>, method=PLAIN, rip=\xff"
BOB_BAD = b"Nov 27 06:11:12 imap(bob@example.edu)<4242><AbCd>: expunge: box=INBOX, msgid=\xfe"


def test_the_bad_lines_admin_also_needs_the_look_up_any_mailbox_permission(client):
    (bad,) = insert_bad_lines(ALICE_BAD)
    client.force_login(staff_user("erin", may_look=False, admin_events=True))
    assert client.get(reverse("admin:records_badline_changelist")).status_code == 403
    assert client.get(reverse("admin:records_badline_change", args=[bad])).status_code == 403
    assert not StaffLookup.objects.exists()


def test_each_view_of_bad_lines_is_a_staff_lookup_of_the_accounts_they_mention(carol):
    alice_bad, _bob_bad, _none = insert_bad_lines(ALICE_BAD, BOB_BAD, b"\x00\x01 nothing here")
    assert carol.get(reverse("admin:records_badline_changelist")).status_code == 200
    rows = list(StaffLookup.objects.order_by("account").values_list("account", "via", "staff_username"))
    assert rows == [(ALICE, "bad_lines", "carol"), (BOB, "bad_lines", "carol")]
    assert [seen.start for seen in lookups_of(ALICE)] == [None]  # alice is told, with "any time"

    StaffLookup.objects.all().delete()
    assert carol.get(reverse("admin:records_badline_change", args=[alice_bad])).status_code == 200
    (row,) = StaffLookup.objects.all()
    assert (row.account, row.via) == (ALICE, "bad_lines")
    assert f"bad_line ids {alice_bad}" in row.query


def test_a_view_of_bad_lines_that_name_no_account_is_still_recorded(carol):
    (bad,) = insert_bad_lines(b"garbage \xff without any user")
    carol.get(reverse("admin:records_badline_change", args=[bad]))
    (row,) = StaffLookup.objects.all()
    assert (row.account, row.via, row.staff_username) == ("", "bad_lines", "carol")


def test_it_shows_what_the_client_said_escaped(carol):
    insert_event(
        recent(), ALICE, "login", client_name="Thunderbird", client_version="115.3", client_os="Windows"
    )
    insert_event(recent(), ALICE, "login", client_name="<img src=x onerror=alert(1)>")
    body = carol.get(reverse(CHANGELIST), {"q": ALICE}).content.decode()
    assert "Thunderbird 115.3 · Windows" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
