"""An owner sees on their own page when help-desk staff looked at their records (and not who)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.test_records_support import records_partitions, records_setup, sign_in  # noqa: F401
from tests.test_staff_support import ALICE, BOB, alice_and_bob, staff_user

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
