"""The owner's alert settings page: owner-only, CSRF-protected, in the owner's language."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.test_records_support import ALICE, BOB, records_partitions, records_setup, sign_in  # noqa: F401
from webui.alerts.models import Subscription

pytestmark = pytest.mark.django_db
URL = reverse("alerts:settings")
ALL_RULES = {"new_signin": "on", "failed_signins": "on", "mass_delete": "on"}


def test_it_sends_strangers_to_the_sign_in_page_and_refuses_staff_who_own_no_mailbox(client):
    assert client.get(URL).status_code == 302
    staff = get_user_model().objects.create_user("helpdesk", password="x" * 20, is_staff=True)
    client.force_login(staff, backend="webui.accounts.backends.LocalPasswordBackend")
    assert client.get(URL).status_code == 403


def test_the_day_view_links_to_it(client):
    sign_in(client, ALICE)
    assert URL in client.get(reverse("records:day")).content.decode()


def test_alice_sees_her_own_address_offered_and_opts_in_in_english(client):
    sign_in(client, ALICE)
    client.cookies["django_language"] = "en"
    page = client.get(URL).content.decode()
    assert f'value="{ALICE}"' in page and "Turn alerts on" in page
    response = client.post(URL, {"email": ALICE, **ALL_RULES})
    assert response.status_code == 302
    subscription = Subscription.objects.get(account=ALICE)
    assert (subscription.language, subscription.active, subscription.rules()) == (
        "en", True, {"new_signin", "failed_signins", "mass_delete"}
    )  # fmt: skip
    assert "Alerts are on, sent to" in client.get(URL).content.decode()


def test_an_owner_who_opts_in_on_the_chinese_page_gets_chinese(client):
    sign_in(client, BOB)
    client.cookies["django_language"] = "zh-hant"
    client.post(URL, {"email": "bob.phone@example.org", "failed_signins": "on"})
    subscription = Subscription.objects.get(account=BOB)
    assert (subscription.language, subscription.email, subscription.rules()) == (
        "zh-hant", "bob.phone@example.org", {"failed_signins"}
    )  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not an address", **ALL_RULES},
        {"email": "alice@example.edu\r\nBcc: x@example.org", **ALL_RULES},
        {"email": ALICE},  # no rule chosen
    ],
)
def test_a_bad_value_is_a_form_error_and_nothing_is_saved(client, data):
    sign_in(client, ALICE)
    client.cookies["django_language"] = "en"
    response = client.post(URL, data)
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    assert not Subscription.objects.exists()


def test_a_post_without_the_csrf_token_is_refused():
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, ALICE)
    assert browser.post(URL, {"email": ALICE, **ALL_RULES}).status_code == 403
    assert not Subscription.objects.exists()


def test_alice_turns_alerts_off_and_on_again_with_a_new_unsubscribe_token(client):
    sign_in(client, ALICE)
    client.post(URL, {"email": ALICE, **ALL_RULES})
    first = Subscription.objects.get().token
    client.post(URL, {"action": "off"})
    assert not Subscription.objects.get().active
    client.post(URL, {"email": ALICE, **ALL_RULES})
    again = Subscription.objects.get()
    assert again.active and again.token != first


def test_opting_in_again_has_the_sender_seed_its_memory_of_the_account_again(client):
    sign_in(client, ALICE)
    client.post(URL, {"email": ALICE, **ALL_RULES})
    Subscription.objects.update(seen_seeded=True)  # as the sender leaves it
    client.post(URL, {"email": "alice.new@example.org", **ALL_RULES})  # a change while on: kept
    assert Subscription.objects.get().seen_seeded
    client.post(URL, {"action": "off"})
    client.post(URL, {"email": ALICE, **ALL_RULES})  # on again: what it missed while off is read anew
    assert not Subscription.objects.get().seen_seeded


def test_bob_cannot_change_alice_s_subscription(client):
    sign_in(client, ALICE)
    client.post(URL, {"email": ALICE, **ALL_RULES})
    other = Client()
    sign_in(other, BOB)
    other.post(URL, {"action": "off"})
    assert Subscription.objects.get(account=ALICE).active
