"""The mail domains owners sign in with, and the IMAP server that checks each one's passwords.

Read once from the environment by webui/settings.py (docs/configuration.md):

    MAILTRAIL_DOMAINS=students.example.edu,staff.example.edu
    MAILTRAIL_IMAP_HOST=imap.example.edu          # defaults for every domain
    MAILTRAIL_IMAP_STUDENTS_EXAMPLE_EDU_HOST=...  # one domain's override

A domain's key is its name in upper case with every other character replaced by `_`.
Any other MAILTRAIL_IMAP_* variable is a typo and stops the program, naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mailtrail.env import ConfigError, env_bool, env_float, env_int, env_list, env_str

SECURITY_CHOICES = ("tls", "starttls", "none")
LOGIN_CHOICES = ("full", "local")
FIELDS = ("HOST", "PORT", "SECURITY", "LOGIN", "TIMEOUT", "VERIFY", "CA_FILE", "FORWARD_CLIENT_IP")
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class MailServer:
    """Where and how to ask an IMAP server whether a password is right."""

    host: str
    port: int
    security: str  # tls: TLS from the first byte; starttls: upgrade on 143; none: plain text
    timeout: float  # seconds for the whole check: connection, TLS and login
    verify: bool  # check the server's certificate and host name
    ca_file: str | None  # a CA bundle for a private CA; None: the system's
    # Send the owner's address in an IMAP ID command (x-originating-ip), so that Dovecot logs
    # and throttles the owner, not the web server; Dovecot honours it only from
    # login_trusted_networks.
    forward_client_ip: bool = False


@dataclass(frozen=True)
class MailDomain:
    """A domain in the sign-in form, and how its users' login names look to the server."""

    name: str
    server: MailServer
    login: str  # full: the server and its log know `user@domain`; local: bare `user`

    def login_name(self, account: str) -> str:
        """The name sent to the IMAP server, which is also the name Dovecot logs."""
        return account if self.login == "local" else f"{account}@{self.name}"


def domain_key(domain: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", domain.upper())


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _port(name: str, default: int) -> int:
    port = env_int(name, default, minimum=1)
    if port > 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535), got {port}")
    return port


def read_domain(domain: str, prefix: str = "MAILTRAIL_IMAP_") -> MailDomain:
    """One domain's settings: its own variables, else the global ones, else the defaults."""
    own = f"{prefix}{domain_key(domain)}_"

    def name(field: str) -> str:
        return own + field if os.environ.get(own + field, "") != "" else prefix + field

    security = _choice(name("SECURITY"), "starttls", SECURITY_CHOICES)
    ca_file = env_str(name("CA_FILE"), "") or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise ConfigError(f"{name('CA_FILE')} names {ca_file!r}, which is not a readable file")
    server = MailServer(
        host=env_str(name("HOST"), "localhost").strip(),
        port=_port(name("PORT"), DEFAULT_PORTS[security]),
        security=security,
        # above Dovecot's longest auth penalty (15 s), so a slow "no" is not taken for "down"
        timeout=env_float(name("TIMEOUT"), 20.0, minimum=0.1),
        verify=env_bool(name("VERIFY"), True),
        ca_file=ca_file,
        forward_client_ip=env_bool(name("FORWARD_CLIENT_IP"), False),
    )
    return MailDomain(name=domain, server=server, login=_choice(name("LOGIN"), "full", LOGIN_CHOICES))


def read_mail_domains(prefix: str = "MAILTRAIL_IMAP_") -> dict[str, MailDomain]:
    """Every domain of MAILTRAIL_DOMAINS with its server, in the order given; ConfigError names the culprit."""
    names = [d.lower() for d in env_list("MAILTRAIL_DOMAINS", ["example.edu"])]
    for domain in names:
        if not _DOMAIN.match(domain):
            raise ConfigError(f"MAILTRAIL_DOMAINS: {domain!r} is not a domain name")
    if len(set(names)) != len(names):
        raise ConfigError(f"MAILTRAIL_DOMAINS names a domain twice: {', '.join(names)}")
    keys: dict[str, str] = {}
    for domain in names:
        key = domain_key(domain)
        if key in keys:
            raise ConfigError(
                f"MAILTRAIL_DOMAINS: {keys[key]!r} and {domain!r} share the variable prefix {prefix}{key}_"
            )
        keys[key] = domain
    known = {prefix + field for field in FIELDS} | {
        f"{prefix}{key}_{field}" for key in keys for field in FIELDS
    }
    for variable in sorted(os.environ):
        if variable.startswith(prefix) and variable not in known:
            raise ConfigError(
                f"{variable} is not a setting: per-domain names are {prefix}<DOMAIN>_<{'|'.join(FIELDS)}> "
                f"with <DOMAIN> one of {', '.join(keys) or '(none)'}"
            )
    domains = {domain: read_domain(domain, prefix) for domain in names}
    # Two domains whose log names are bare `user` would both show `alice` in the log: one
    # alice would see the other's events. Refuse rather than guess whose they are.
    local = [d.name for d in domains.values() if d.login == "local"]
    if len(local) > 1:
        raise ConfigError(
            f"MAILTRAIL_IMAP_<DOMAIN>_LOGIN: only one domain may use the bare `user` login form "
            f"(their log names would collide), got {', '.join(local)}"
        )
    return domains
