"""MAILTRAIL_DOMAINS and the MAILTRAIL_IMAP_* variables: defaults, per-domain overrides, loud errors."""

from __future__ import annotations

import os

import pytest

from mailtrail.env import ConfigError
from webui.accounts.config import MailDomain, read_mail_domains


@pytest.fixture(autouse=True)
def clean_env(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILTRAIL_IMAP_") or name == "MAILTRAIL_DOMAINS":
            monkeypatch.delenv(name)


def test_it_defaults_to_one_domain_on_a_local_starttls_server() -> None:
    (domain,) = read_mail_domains().values()
    assert domain.name == "example.edu"
    assert (domain.server.host, domain.server.port, domain.server.security) == ("localhost", 143, "starttls")
    assert domain.login == "full" and domain.server.verify and domain.server.timeout == 20.0


def test_it_reads_global_defaults_and_one_domains_overrides(monkeypatch) -> None:
    monkeypatch.setenv("MAILTRAIL_DOMAINS", "students.example.edu, Staff.Example.edu,alumni.example.edu")
    monkeypatch.setenv("MAILTRAIL_IMAP_HOST", "imap.example.edu")
    monkeypatch.setenv("MAILTRAIL_IMAP_SECURITY", "tls")
    monkeypatch.setenv("MAILTRAIL_IMAP_STAFF_EXAMPLE_EDU_HOST", "mail.staff.example.edu")
    monkeypatch.setenv("MAILTRAIL_IMAP_STAFF_EXAMPLE_EDU_LOGIN", "local")
    monkeypatch.setenv("MAILTRAIL_IMAP_STAFF_EXAMPLE_EDU_TIMEOUT", "2.5")
    domains = read_mail_domains()
    assert list(domains) == ["students.example.edu", "staff.example.edu", "alumni.example.edu"]
    students, staff = domains["students.example.edu"], domains["staff.example.edu"]
    assert (students.server.host, students.server.port, students.login) == ("imap.example.edu", 993, "full")
    assert (staff.server.host, staff.server.port, staff.server.timeout) == (
        "mail.staff.example.edu",
        993,
        2.5,
    )
    assert staff.login_name("alice") == "alice"
    assert students.login_name("alice") == "alice@students.example.edu"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"MAILTRAIL_IMAP_PORT": "imap"}, "MAILTRAIL_IMAP_PORT"),
        ({"MAILTRAIL_IMAP_PORT": "70000"}, "MAILTRAIL_IMAP_PORT"),
        ({"MAILTRAIL_IMAP_SECURITY": "ssl"}, "MAILTRAIL_IMAP_SECURITY"),
        ({"MAILTRAIL_IMAP_LOGIN": "email"}, "MAILTRAIL_IMAP_LOGIN"),
        ({"MAILTRAIL_IMAP_TIMEOUT": "0"}, "MAILTRAIL_IMAP_TIMEOUT"),
        ({"MAILTRAIL_IMAP_VERIFY": "perhaps"}, "MAILTRAIL_IMAP_VERIFY"),
        ({"MAILTRAIL_IMAP_CA_FILE": "/no/such/ca.pem"}, "MAILTRAIL_IMAP_CA_FILE"),
        ({"MAILTRAIL_IMAP_HOTS": "imap.example.edu"}, "MAILTRAIL_IMAP_HOTS"),
        ({"MAILTRAIL_IMAP_ELSEWHERE_ORG_HOST": "x"}, "MAILTRAIL_IMAP_ELSEWHERE_ORG_HOST"),
        ({"MAILTRAIL_IMAP_EXAMPLE_EDU_SECURITY": "tsl"}, "MAILTRAIL_IMAP_EXAMPLE_EDU_SECURITY"),
        ({"MAILTRAIL_DOMAINS": "example.edu,not a domain"}, "MAILTRAIL_DOMAINS"),
        ({"MAILTRAIL_DOMAINS": "example.edu,EXAMPLE.edu"}, "MAILTRAIL_DOMAINS"),
        ({"MAILTRAIL_DOMAINS": "a-b.edu,a.b.edu"}, "MAILTRAIL_DOMAINS"),
        (
            {"MAILTRAIL_DOMAINS": "a.edu,b.edu", "MAILTRAIL_IMAP_LOGIN": "local"},
            "MAILTRAIL_IMAP_<DOMAIN>_LOGIN",
        ),
    ],
)
def test_it_stops_with_the_name_of_a_misconfigured_variable(monkeypatch, variables, named) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named.replace("<", r"\<")):
        read_mail_domains()


def test_a_domain_is_a_plain_value() -> None:
    domain = read_mail_domains()["example.edu"]
    assert isinstance(domain, MailDomain)
    with pytest.raises(AttributeError):
        domain.login = "local"  # frozen: settings cannot drift at run time
