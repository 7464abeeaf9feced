"""`manage.py demo_users`: known passwords in demo mode only, never over a real owner."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from webui.accounts import DEMO_BACKEND

pytestmark = pytest.mark.django_db


def test_it_refuses_without_debug_or_demo_mode(settings) -> None:
    settings.DEBUG = False
    settings.MAILTRAIL_DEMO = False
    with pytest.raises(CommandError, match="MAILTRAIL_DEMO"):
        call_command("demo_users")
    assert not User.objects.exists()


def test_it_creates_alice_and_bob_who_can_sign_in_with_the_printed_passwords(settings, capsys) -> None:
    settings.MAILTRAIL_DEMO = True
    call_command("demo_users")
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert set(printed) == {"alice@example.edu", "bob@example.edu", "helpdesk"}  # helpdesk: staff
    request = RequestFactory().post("/accounts/login/")
    user = authenticate(
        request, username="alice@example.edu", password=printed["alice@example.edu"], mailbox_sign_in=True
    )
    assert user is not None and user.username == "alice@example.edu"
    assert user.backend == DEMO_BACKEND  # the owner's form signs demo users in as mailbox owners


def test_it_resets_a_demo_password_when_run_again(settings, capsys) -> None:
    settings.MAILTRAIL_DEMO = True
    call_command("demo_users")
    User.objects.filter(username="bob@example.edu").update(password=make_password("changed"))
    call_command("demo_users")
    bob = User.objects.get(username="bob@example.edu")
    assert not bob.check_password("changed")


def test_it_never_gives_a_real_mailbox_owner_a_known_password(settings) -> None:
    settings.MAILTRAIL_DEMO = True
    User.objects.create(username="alice@example.edu", password=make_password(None))
    with pytest.raises(CommandError, match="real mailbox owner"):
        call_command("demo_users")
    assert not User.objects.get(username="alice@example.edu").has_usable_password()
