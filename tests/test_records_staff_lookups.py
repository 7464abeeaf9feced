"""An owner sees on their own page when help-desk staff looked at their records (every lookup, grouped; not who)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.test_records_support import records_partitions, records_setup, sign_in  # noqa: F401
from tests.test_staff_support import ALICE, BOB, alice_and_bob, staff_user
from webui.staff.audit import OWNER_PAGE_DAYS
from webui.staff.models import StaffLookup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_db")]


def test_alice_sees_when_staff_looked_at_her_records_and_bob_sees_nothing_of_it(client):
    alice_and_bob()
    carol = Client()
    carol.force_login(staff_user("carol", may_look=True))
    first = timezone.localdate() - timedelta(days=3)
    last = timezone.localdate() - timedelta(days=1)
    looked = carol.get(reverse("staff:search"), {"account": ALICE, "date": first, "end": last})
    assert looked.status_code == 200

    page = sign_in(client, ALICE).get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert "Help-desk staff looked at your records" in body
    assert f"records of {first:%Y-%m-%d} to {last:%Y-%m-%d}" in body  # the half-open end, shown inclusive
    assert "carol" not in body

    other = sign_in(Client(), BOB).get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Help-desk staff looked" not in other.content.decode()


def test_the_notice_is_translated(client):
    alice_and_bob()
    carol = Client()
    carol.force_login(staff_user("carol", may_look=True))
    carol.get(reverse("staff:search"), {"account": ALICE})
    page = sign_in(client, ALICE).get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "服務台人員曾查看您的紀錄" in page.content.decode()


def looked(account: str, days_ago: int, role: str, *, name: str = "carol", ranged: bool = True) -> None:
    """A lookup of `account` written as the audit writes it, `days_ago` days back at noon."""
    day = timezone.localdate() - timedelta(days=days_ago)
    at = timezone.make_aware(datetime.combine(day, time(12)))
    start = timezone.make_aware(datetime.combine(day - timedelta(days=2), time.min)) if ranged else None
    end = start + timedelta(days=2) if ranged else None
    StaffLookup.objects.create(
        at=at, staff_username=name, staff_role=role, account=account, start=start, end=end, via="search"
    )


def lines_of(body: str) -> list[str]:
    found = re.search(r'<div class="staff-lookups".*?</ul>', body, flags=re.S)
    return (
        [" ".join(li.split()) for li in re.findall(r"<li>(.*?)</li>", found.group(0), flags=re.S)]
        if found
        else []
    )


def test_alice_sees_every_lookup_one_line_per_day_and_role_a_page_of_days_at_a_time(client):
    for days_ago in range(20):  # twenty days, three lookups a day by the help desk, one by an admin
        for _ in range(3):
            looked(ALICE, days_ago, "help desk")
        looked(ALICE, days_ago, "", name="olivia", ranged=False)
    looked(ALICE, 400, "help desk")  # long ago: still shown, on the last page
    sign_in(client, ALICE)

    first = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    lines = lines_of(first)
    assert len(lines) == 2 * OWNER_PAGE_DAYS
    today = timezone.localdate()
    stamp = f'<time datetime="{today:%Y-%m-%d}">{today:%Y-%m-%d}</time>'
    assert lines[0] == f"{stamp} — staff in no group — 1 lookup — records of any time"
    first_day, last_day = today - timedelta(days=2), today - timedelta(days=1)  # half-open, shown inclusive
    assert (
        lines[1]
        == f"{stamp} — help desk — 3 lookups — records of {first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}"
    )
    assert "carol" not in first and "olivia" not in first

    seen, page, pages = [], first, 0
    while True:
        seen += lines_of(page)
        older = re.search(r'class="lookups-older" href="([^"]+)"', page)
        if older is None:
            break
        response = client.get(older.group(1).replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and "no-store" in response["Cache-Control"]
        page, pages = response.content.decode(), pages + 1
        assert "carol" not in page and "olivia" not in page
    assert pages == 1
    counts = [int(re.search(r"— (\d+) lookups?", line).group(1)) for line in seen]
    assert sum(counts) == 20 * 4 + 1  # every lookup, none dropped
    assert f"{today - timedelta(days=400):%Y-%m-%d}" in seen[-1]


def test_a_staff_search_records_the_staff_members_groups_as_their_role(client):
    carol = Client()
    carol.force_login(staff_user("carol", may_look=True))  # in the "help desk" group
    carol.get(reverse("staff:search"), {"account": ALICE})
    assert list(StaffLookup.objects.values_list("staff_role", flat=True)) == ["help desk"]
    body = sign_in(client, ALICE).get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "— help desk — 1 lookup —" in " ".join(body.split())


def test_bob_sees_none_of_alices_lookups_on_any_page(client):
    looked(ALICE, 1, "help desk")
    sign_in(client, BOB)
    assert "staff-lookups" not in client.get(reverse("records:day")).content.decode()
    before = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "staff-lookups" not in client.get(reverse("records:lookups"), {"before": before}).content.decode()


@pytest.mark.parametrize("before", ["yesterday", "9999-12-31", "0001-01-01", "\x00"])
def test_a_damaged_page_link_is_a_400(client, before):
    response = sign_in(client, ALICE).get(reverse("records:lookups"), {"before": before})
    assert response.status_code == 400
