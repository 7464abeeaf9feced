"""The sender's memory of what each opted-in account has been seen from (alerts.Seen)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.alerts_support import (
    ALICE,
    BOB,
    HOME_CLIENT,
    HOME_IP,
    STRANGER_IP,
    decide_all,
    history,
    insert_event,
    opt_in,
)
from webui.alerts import sender
from webui.alerts.models import Alert, Checkpoint, Seen, Subscription
from webui.alerts.rules import client_key

pytestmark = pytest.mark.usefixtures("alerts_db")

HOME_NET = "140.112.8.0/24"
THUNDERBIRD = client_key("Thunderbird", "Windows")


def seen(account: str = ALICE) -> dict[tuple[str, str], object]:
    return {(s.kind, s.value): s.last_seen for s in Seen.objects.filter(account=account)}


def test_the_first_sign_in_read_seeds_the_memory_from_90_days_of_history_once():
    history()
    opt_in()
    login = timezone.now()
    insert_event(login, "imap", "login", ip="140.112.8.77", session="s1", **HOME_CLIENT)
    assert decide_all() == 0
    assert Subscription.objects.get(account=ALICE).seen_seeded
    assert set(seen()) == {("signin", ""), ("network", HOME_NET), ("client", THUNDERBIRD)}
    assert seen()[("network", HOME_NET)] == login  # the pass's own sign-in, after the seed
    # seeded once: the history is no longer read from the event table but remembered
    with connection.cursor() as cur:
        cur.execute("DELETE FROM event WHERE ts < %s", [timezone.now() - timedelta(hours=2)])
    insert_event(timezone.now(), "imap", "login", ip=HOME_IP, session="s2", **HOME_CLIENT)
    assert decide_all() == 0
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s3", **HOME_CLIENT)
    assert decide_all() == 1


def test_each_sign_in_is_remembered_so_a_new_network_alerts_once_even_within_one_pass():
    history()
    opt_in()
    first, second = timezone.now() - timedelta(seconds=5), timezone.now()
    insert_event(first, "imap", "login", ip=STRANGER_IP, session="s1", **HOME_CLIENT)
    insert_event(second, "imap", "login", ip="203.0.113.99", session="s2", **HOME_CLIENT)
    assert decide_all() == 1
    assert seen()[("network", "203.0.113.0/24")] == second  # last_seen moved forward
    assert Seen.objects.filter(account=ALICE, kind="network").count() == 2


def test_sign_ins_before_the_opt_in_are_remembered_though_not_decided():
    history()
    opt_in(when=timezone.now() - timedelta(minutes=1))
    insert_event(timezone.now() - timedelta(minutes=10), "imap", "login", ip=STRANGER_IP, session="s1")
    assert decide_all() == 0
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s2")
    assert decide_all() == 0
    assert ("network", "203.0.113.0/24") in seen()


def test_accounts_not_opted_in_have_no_memory():
    history(BOB)
    insert_event(timezone.now(), "imap", "login", BOB, ip=STRANGER_IP, session="b1")
    decide_all()
    assert not Seen.objects.exists()


def test_pruning_forgets_what_is_older_than_90_days_and_accounts_that_opted_out():
    now = timezone.now()
    opt_in()
    gone = opt_in(BOB)
    Subscription.objects.filter(account=ALICE).update(seen_seeded=True)
    Subscription.objects.filter(account=BOB).update(active=False, seen_seeded=True)
    Seen.objects.create(account=ALICE, kind="network", value=HOME_NET, last_seen=now - timedelta(days=89))
    Seen.objects.create(
        account=ALICE, kind="network", value="10.0.0.0/24", last_seen=now - timedelta(days=91)
    )
    Seen.objects.create(account=gone.account, kind="network", value=HOME_NET, last_seen=now)
    assert sender.prune_seen(now) == 2
    assert list(Seen.objects.values_list("account", "value")) == [(ALICE, HOME_NET)]
    assert not Subscription.objects.get(account=BOB).seen_seeded  # a new opt-in seeds it again
    assert Subscription.objects.get(account=ALICE).seen_seeded


def test_the_sender_prunes_now_and_then(monkeypatch):
    opt_in()
    Seen.objects.create(
        account=ALICE, kind="signin", value="", last_seen=timezone.now() - timedelta(days=100)
    )
    monkeypatch.setattr(sender, "_pruned_at", timezone.now() - sender.PRUNE_EVERY)
    sender.decide()
    assert not Seen.objects.exists()
    Seen.objects.create(
        account=ALICE, kind="signin", value="", last_seen=timezone.now() - timedelta(days=100)
    )
    sender.decide()  # within the hour: not again
    assert Seen.objects.exists()


def test_a_pass_that_fails_leaves_neither_memory_nor_checkpoint_nor_alerts(monkeypatch):
    history()
    opt_in()
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s1", **HOME_CLIENT)
    sender.decide()  # notes the candidate

    def crash(*args, **kwargs):
        raise RuntimeError("killed between the seed and the alert row")

    with monkeypatch.context() as patch:
        patch.setattr(sender, "record", crash)
        with pytest.raises(RuntimeError):
            sender.decide()
    assert not Seen.objects.exists()
    assert not Subscription.objects.get(account=ALICE).seen_seeded
    assert Checkpoint.objects.get().last_id == 0
    assert decide_all() == 1  # the next pass decides it, from a memory seeded then
    assert Alert.objects.get().ip == STRANGER_IP
    assert ("network", "203.0.113.0/24") in seen()
