"""The per-IP summary: counts, campus networks, new addresses; and the timeline picture."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from mailtrail.env import ConfigError
from tests.test_records_support import (  # noqa: F401
    ALICE,
    BOB,
    alice_day,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)
from webui.records.queries import ip_summary, on_campus, period_bounds

pytestmark = pytest.mark.django_db


def _summary(day=None):
    day = day or today()
    return {s.ip: s for s in ip_summary(ALICE, *period_bounds(day, day))}


def test_it_sums_each_ip_with_protocols_times_logins_and_deletions(monkeypatch):
    monkeypatch.setenv("MAILTRAIL_CAMPUS_NETWORKS", "140.112.0.0/16, 2001:db8::/32")
    alice_day(today())
    summary = _summary()
    home, away = summary["140.112.8.9"], summary["203.0.113.7"]
    assert home.protocols == ["pop3"]
    assert home.first_seen == at(today(), "08:00:00") and home.last_seen == at(today(), "08:00:09")
    assert (home.logins, home.failures) == (1, 0)
    # the POP3 QUIT logged del=1 and one expunge line: one message, not two
    assert home.deleted == 1
    assert away.protocols == ["imap"]
    assert (away.logins, away.failures, away.deleted) == (1, 1, 1)
    assert home.outside is False and away.outside is True


def test_it_counts_logout_deletions_when_mail_log_is_off():
    insert_event(at(today(), "08:00:00"), "pop3", "login", ip="192.0.2.5")
    insert_event(at(today(), "08:01:00"), "pop3", "logout", ip="192.0.2.5", deleted=7, messages=9)
    assert _summary()["192.0.2.5"].deleted == 7


def test_it_marks_nothing_outside_campus_when_no_networks_are_configured(monkeypatch):
    monkeypatch.delenv("MAILTRAIL_CAMPUS_NETWORKS", raising=False)
    alice_day(today())
    assert {s.outside for s in _summary().values()} == {None}


def test_it_treats_an_ipv4_mapped_address_as_the_ipv4_address_it_wraps():
    import ipaddress

    nets = [ipaddress.ip_network("140.112.0.0/16")]
    assert on_campus("::ffff:140.112.3.4", nets)
    assert not on_campus("::ffff:8.8.8.8", nets)
    assert not on_campus("2001:db8::1", nets)


def test_it_names_the_variable_when_campus_networks_are_malformed(monkeypatch):
    monkeypatch.setenv("MAILTRAIL_CAMPUS_NETWORKS", "140.112.0.0/16, campus")
    alice_day(today())
    with pytest.raises(ConfigError, match="MAILTRAIL_CAMPUS_NETWORKS.*'campus'"):
        _summary()


def test_it_flags_an_ip_not_seen_in_the_previous_30_days_as_new():
    day = today()
    alice_day(day)
    insert_event(at(day - timedelta(days=10), "12:00:00"), "imap", "login", ip="203.0.113.7")
    insert_event(at(day - timedelta(days=45), "12:00:00"), "pop3", "login", ip="140.112.8.9")
    insert_event(at(day - timedelta(days=5), "12:00:00"), "pop3", "login", account=BOB, ip="140.112.8.9")
    summary = _summary(day)
    assert summary["203.0.113.7"].new is False
    assert summary["140.112.8.9"].new is True  # 45 days ago is too old; bob's sighting is not alice's


def test_it_shows_the_summary_with_its_marks_on_the_day_view(client, monkeypatch):
    monkeypatch.setenv("MAILTRAIL_CAMPUS_NETWORKS", "140.112.0.0/16")
    alice_day(today())
    sign_in(client, ALICE)
    body = client.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="ip-summary"' in body
    assert body.count("outside campus") == 1
    assert "new: not seen in the previous 30 days" in body
    assert f'src="{reverse("records:timeline")}?date={today().isoformat()}"' in body


def test_it_draws_one_lane_per_ip_with_a_bar_per_session(client):
    alice_day(today())
    sign_in(client, ALICE)
    body = client.get(reverse("records:timeline")).content.decode()
    assert body.startswith("<svg ")
    assert body.count(">140.112.8.9</text>") == 1 and body.count(">203.0.113.7</text>") == 1
    # two sessions (pop3, imap) and one failed sign-in, each a bar with its title
    assert body.count("</rect>") == 3
    assert body.count('fill="#D55E00"><title>') == 1  # the failed sign-in, in the legend's colour


def test_the_timeline_has_a_key_in_the_owners_language(client):
    alice_day(today())
    sign_in(client, ALICE)
    zh = client.get(reverse("records:timeline"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    en = client.get(reverse("records:timeline"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for colour, words in (("#0072B2", "IMAP"), ("#009E73", "POP3"), ("#D55E00", "登入失敗")):
        assert f'fill="{colour}"/>' in zh  # the key's swatch: no title, unlike a bar
        assert words in zh
    assert "failed sign-in" in en and "登入失敗" not in en
    for body in (zh, en):
        ElementTree.fromstring(body)  # well-formed: a browser draws nothing of a broken SVG


def test_it_keeps_a_range_of_days_in_the_timeline_picture(client):
    alice_day(today() - timedelta(days=6))
    alice_day(today())
    sign_in(client, ALICE)
    response = client.get(
        reverse("records:timeline"),
        {"date": (today() - timedelta(days=6)).isoformat(), "end": today().isoformat()},
    )
    assert response.status_code == 200
    assert response.content.decode().count("</rect>") == 6  # bars; the key's swatches close themselves


def test_it_answers_a_bad_period_for_the_picture_with_400(client):
    sign_in(client, ALICE)
    response = client.get(reverse("records:timeline"), {"date": "2026-13-01"})
    assert response.status_code == 400


def test_it_refuses_to_start_with_malformed_campus_networks():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(
        os.environ,
        MAILTRAIL_CAMPUS_NETWORKS="10.0.0.0/8,not-a-network",
        DJANGO_SETTINGS_MODULE="webui.settings_test",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "MAILTRAIL_CAMPUS_NETWORKS" in result.stderr and "'not-a-network'" in result.stderr
