"""The alert rules and the sender's decisions, with named personas against real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from tests.alerts_support import (
    ALICE,
    BOB,
    CAROL,
    HOME_CLIENT,
    HOME_IP,
    STRANGER_IP,
    decide_all,
    history,
    insert_event,
    opt_in,
)
from webui.alerts.models import Alert, Checkpoint
from webui.alerts.rules import network_of

pytestmark = pytest.mark.usefixtures("alerts_db")


def alerts(account: str = ALICE) -> list[tuple[str, str]]:
    return list(Alert.objects.filter(account=account).order_by("id").values_list("rule", "state"))


def test_networks_are_ipv4_slash_24_and_ipv6_slash_48_and_mapped_addresses_count_as_ipv4():
    both = ["140.112.8.0/24", "::ffff:8c70:800/120"]  # ::ffff:140.112.8.0/120
    assert network_of("140.112.8.9") == both
    assert network_of("::ffff:140.112.8.200") == both
    assert network_of("2001:db8:1:2::5") == ["2001:db8:1::/48"]


def test_alice_signing_in_from_a_network_she_never_used_gets_an_alert():
    history()
    opt_in()
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s1", **HOME_CLIENT)
    assert decide_all() == 1
    (alert,) = Alert.objects.filter(account=ALICE)
    assert (alert.rule, alert.state, alert.ip, alert.client) == (
        "new_signin", "pending", STRANGER_IP, "Thunderbird 115.3 · Windows"
    )  # fmt: skip


def test_alice_at_home_on_another_address_of_her_network_with_her_client_gets_none():
    history()
    opt_in()
    insert_event(timezone.now(), "imap", "login", ip="140.112.8.77", session="s1", **HOME_CLIENT)
    assert decide_all() == 0


def test_alice_at_home_with_a_client_she_never_used_gets_an_alert():
    history()
    opt_in()
    phone = {"client_name": "iOS Mail", "client_os": "iOS"}
    insert_event(timezone.now(), "imap", "login", ip=HOME_IP, session="s1", **phone)
    assert decide_all() == 1
    assert Alert.objects.get(account=ALICE).client == "iOS Mail · iOS"


def test_a_pop3_sign_in_from_her_network_has_no_client_and_gets_none_but_from_elsewhere_one():
    history()
    opt_in()
    insert_event(timezone.now(), "pop3", "login", ip=HOME_IP, session="p1")
    assert decide_all() == 0
    insert_event(timezone.now(), "pop3", "login", ip=STRANGER_IP, session="p2")
    assert decide_all() == 1


def test_carol_without_a_sign_in_in_90_days_is_not_alerted_for_her_first_one_but_for_a_second_network():
    opt_in(CAROL)
    insert_event(timezone.now() - timedelta(seconds=2), "imap", "login", CAROL, ip=HOME_IP, session="c1")
    assert decide_all() == 0  # the first sign-in teaches the baseline
    insert_event(timezone.now(), "imap", "login", CAROL, ip=STRANGER_IP, session="c2")
    assert decide_all() == 1


def test_bob_who_never_opted_in_gets_nothing():
    history(BOB)
    insert_event(timezone.now(), "imap", "login", BOB, ip=STRANGER_IP, session="b1")
    assert decide_all() == 0
    assert not Alert.objects.exists()


def test_what_happened_before_alice_opted_in_never_alerts():
    history()
    insert_event(timezone.now() - timedelta(minutes=10), "imap", "login", ip=STRANGER_IP, session="s1")
    opt_in(when=timezone.now() - timedelta(minutes=1))
    assert decide_all() == 0


def test_a_rule_alice_did_not_choose_stays_quiet():
    history()
    opt_in(new_signin=False)
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s1")
    assert decide_all() == 0


def test_more_than_ten_failed_sign_ins_within_an_hour_alert_once():
    opt_in(when=timezone.now() - timedelta(hours=1))
    start = timezone.now() - timedelta(minutes=30)
    for n in range(10):
        insert_event(start + timedelta(seconds=n), "imap", "auth_fail", ip=STRANGER_IP, attempts=1)
    assert decide_all() == 0  # ten is not more than ten
    for n in range(10, 15):
        insert_event(start + timedelta(seconds=n), "imap", "auth_fail", ip=STRANGER_IP, attempts=1)
    assert decide_all() == 1
    assert Alert.objects.get().count == 11


def test_failed_sign_ins_spread_over_more_than_an_hour_do_not_alert():
    opt_in(when=timezone.now() - timedelta(hours=5))
    start = timezone.now() - timedelta(hours=4)
    for n in range(12):
        insert_event(start + timedelta(minutes=20 * n), "imap", "auth_fail", ip=STRANGER_IP)
    assert decide_all() == 0


def deleting_session(ip: str, count: int, session: str = "d1", **client) -> None:
    now = timezone.now()
    insert_event(now - timedelta(seconds=60), "imap", "login", ip=ip, session=session, **client)
    for n in range(count):
        insert_event(
            now - timedelta(seconds=50 - n), "imap", "message_delete", ip=ip, session=session,
            mailbox="INBOX", message_id=f"<{n}@x>",
        )  # fmt: skip


def test_a_session_from_a_new_network_deleting_more_than_twenty_messages_alerts_once():
    history()
    opt_in(new_signin=False)
    deleting_session(STRANGER_IP, 25, **HOME_CLIENT)
    assert decide_all() == 1
    alert = Alert.objects.get()
    assert (alert.rule, alert.count, alert.ip) == ("mass_delete", 21, STRANGER_IP)


def test_a_session_from_home_with_her_client_deleting_many_messages_does_not_alert():
    history()
    opt_in()
    deleting_session(HOME_IP, 40, **HOME_CLIENT)
    assert decide_all() == 0


def test_twenty_deletions_from_a_new_network_are_not_more_than_twenty():
    history()
    opt_in(new_signin=False)
    deleting_session(STRANGER_IP, 20)
    assert decide_all() == 0


def test_beyond_five_alerts_an_hour_the_rest_are_recorded_as_suppressed():
    history()
    opt_in()
    for n in range(8):
        insert_event(timezone.now(), "imap", "login", ip=f"198.51.{n}.1", session=f"s{n}")
    assert decide_all() == 8
    states = [state for _, state in alerts()]
    assert states == ["pending"] * 5 + ["suppressed"] * 3


def test_reading_an_event_again_after_a_restart_decides_nothing_new():
    history()
    opt_in()
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s1")
    assert decide_all() == 1
    Checkpoint.objects.update(last_id=0, candidate_at=None)  # as if the checkpoint were lost
    assert decide_all() == 0
    assert Alert.objects.count() == 1


def test_the_checkpoint_never_passes_an_event_whose_transaction_has_not_committed(database_url):
    history()
    opt_in()
    writer = psycopg.connect(database_url)  # an ingest transaction that takes its id first, commits last
    try:
        writer.execute(
            "INSERT INTO event (ts, host, protocol, kind, account, ip, session, source_id, line_offset) "
            "VALUES (now(), 'mx1', 'imap', 'login', %s, %s, 'slow', 1, 0)",
            [ALICE, STRANGER_IP],
        )
        later = insert_event(timezone.now(), "imap", "login", ip="198.51.100.1", session="fast")
        decide_all()
        decide_all()
        checkpoint = Checkpoint.objects.get()
        assert checkpoint.last_id < later  # held back below the open transaction's id
        writer.commit()
    finally:
        writer.close()
    decide_all()
    assert sorted(Alert.objects.values_list("ip", flat=True)) == ["198.51.100.1", STRANGER_IP]
