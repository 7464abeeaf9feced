"""The help desk's search page: permission-gated, the owner's view of any account, every look audited."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.test_staff_support import ALICE, ALICE_IP, BOB, BOB_IP, alice_and_bob, staff_user
from webui.staff import lookups_of
from webui.staff import views as staff_views
from webui.staff.models import StaffLookup
from webui.staff.views import TIMELINE_SALT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False  # the HTTPS redirect is tested with the settings


@pytest.fixture
def events():
    return alice_and_bob()


@pytest.fixture
def carol(client):
    """Carol is on the help desk: her group holds staff.view_any_mailbox."""
    client.force_login(staff_user("carol", may_look=True))
    return client


def test_it_sends_anonymous_visitors_to_the_staff_sign_in(client, events):
    response = client.get(reverse("staff:search"), {"account": ALICE})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not StaffLookup.objects.exists()


def test_a_staff_user_without_the_permission_gets_nothing(client, events):
    client.force_login(staff_user("dave", may_look=False))
    response = client.get(reverse("staff:search"), {"account": ALICE})
    assert response.status_code == 403
    assert ALICE_IP not in response.content.decode()
    assert client.get(reverse("staff:export"), {"account": ALICE}).status_code == 403
    assert not StaffLookup.objects.exists()


def test_it_shows_the_chosen_account_as_its_owner_sees_it(carol, events):
    response = carol.get(reverse("staff:search"), {"account": ALICE})
    assert response.status_code == 200
    assert [row.event.id for row in response.context["rows"]] == [
        events["alice_login"],
        events["alice_delete"],
    ]
    assert [s.ip for s in response.context["summary"]] == [ALICE_IP]
    body = response.content.decode()
    assert "&lt;one@example.org&gt;" in body
    assert BOB_IP not in body
    assert "account=alice%40example.edu" in response.context["plain_query"]


def test_it_records_who_looked_at_whose_account_over_which_range(carol, events):
    day = timezone.localdate()
    first = day - timedelta(days=2)
    carol.get(reverse("staff:search"), {"account": ALICE, "date": first.isoformat(), "end": day.isoformat()})
    (row,) = StaffLookup.objects.all()
    assert (row.staff_username, row.account, row.via) == ("carol", ALICE, "search")
    assert timezone.localtime(row.start).date() == first
    assert timezone.localtime(row.end).date() == day + timedelta(days=1)  # half-open
    (seen,) = lookups_of(ALICE)
    assert (seen.start, seen.end) == (row.start, row.end)
    assert not hasattr(seen, "staff_username")  # the owner learns when, not who
    assert lookups_of(BOB) == []
    assert lookups_of(ALICE, since=timezone.now() + timedelta(minutes=1)) == []


def test_it_rejects_a_range_longer_than_a_month_without_reading_or_recording(carol, events):
    day = timezone.localdate()
    response = carol.get(
        reverse("staff:search"),
        {"account": ALICE, "date": (day - timedelta(days=40)).isoformat(), "end": day.isoformat()},
    )
    assert response.status_code == 400
    assert not StaffLookup.objects.exists()


def test_the_export_is_audited_and_holds_only_that_account(carol, events):
    response = carol.get(reverse("staff:export"), {"account": ALICE})
    assert response.status_code == 200
    body = response.content.decode()
    assert ALICE_IP in body and BOB_IP not in body
    assert StaffLookup.objects.get().via == "export"


def test_the_timeline_needs_the_signed_link_from_an_audited_page(carol, events):
    page = carol.get(reverse("staff:search"), {"account": ALICE})
    token = page.context["timeline_token"]
    assert carol.get(reverse("staff:timeline"), {"t": token}).status_code == 200
    assert carol.get(reverse("staff:timeline"), {"t": token[:-2] + "xx"}).status_code == 400
    assert StaffLookup.objects.count() == 2  # the page, and the one use of its image link


def test_each_use_of_a_timeline_link_is_audited_with_its_user_account_and_range(carol, events):
    page = carol.get(reverse("staff:search"), {"account": ALICE})
    (seen_page,) = StaffLookup.objects.all()
    for _ in range(2):  # a replay by the same staff member is answered, and recorded again
        assert carol.get(reverse("staff:timeline"), {"t": page.context["timeline_token"]}).status_code == 200
    uses = StaffLookup.objects.exclude(pk=seen_page.pk)
    assert uses.count() == 2
    for use in uses:
        assert (use.staff_username, use.account, use.start, use.end) == (
            "carol", ALICE, seen_page.start, seen_page.end,
        )  # fmt: skip
        assert use.query.startswith("timeline.svg ")


def test_a_timeline_link_made_for_another_staff_member_is_refused_unread_and_unrecorded(client, events):
    client.force_login(staff_user("carol", may_look=True))
    token = client.get(reverse("staff:search"), {"account": ALICE}).context["timeline_token"]
    dave = Client()
    dave.force_login(staff_user("dave", may_look=True))
    before = StaffLookup.objects.count()
    response = dave.get(reverse("staff:timeline"), {"t": token})
    assert response.status_code == 403
    assert ALICE not in response.content.decode()
    assert StaffLookup.objects.count() == before


def test_a_timeline_link_of_the_old_form_without_its_staff_member_is_refused(carol, events):
    # signed with the site's key, as links were before they named their staff member
    token = signing.dumps({"account": ALICE, "query": "?"}, salt=TIMELINE_SALT)
    assert carol.get(reverse("staff:timeline"), {"t": token}).status_code == 400
    assert not StaffLookup.objects.exists()


def test_an_expired_timeline_link_is_refused(carol, events, monkeypatch):
    token = carol.get(reverse("staff:search"), {"account": ALICE}).context["timeline_token"]
    monkeypatch.setattr(staff_views, "TIMELINE_MAX_AGE", 0)
    time.sleep(1.1)  # signing's timestamps count whole seconds
    assert carol.get(reverse("staff:timeline"), {"t": token}).status_code == 400
    assert StaffLookup.objects.count() == 1  # the page only
