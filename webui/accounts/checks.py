"""System checks for sign-in settings that parse but are unsafe (`manage.py check --deploy`)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@register(Tags.security, deploy=True)
def check_mail_servers(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Passwords must not cross a network in clear text, nor go to an unverified server."""
    problems: list[Warning] = []
    for domain in settings.MAILTRAIL_MAIL_DOMAINS.values():
        server = domain.server
        if server.security == "none" and not _is_loopback(server.host):
            problems.append(
                Warning(
                    f"Passwords for {domain.name} go to {server.host} in clear text.",
                    hint="Set MAILTRAIL_IMAP_SECURITY (or its per-domain form) to tls or starttls.",
                    id="accounts.W001",
                )
            )
        if server.security != "none" and not server.verify:
            problems.append(
                Warning(
                    f"The certificate of {server.host} ({domain.name}) is not verified.",
                    hint="Set MAILTRAIL_IMAP_VERIFY=yes and, for a private CA, MAILTRAIL_IMAP_CA_FILE.",
                    id="accounts.W002",
                )
            )
    return problems


@register(Tags.security, deploy=True)
def check_test_switches(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Switches meant for tests and demos must be off on a real site."""
    problems: list[Error | Warning] = []
    if getattr(settings, "CAPTCHA_TEST_MODE", False) and not settings.DEBUG:
        problems.append(
            Error("CAPTCHA_TEST_MODE is on: every captcha answer 'passed' is accepted.", id="accounts.E001")
        )
    if settings.MAILTRAIL_DEMO and not settings.DEBUG:
        problems.append(
            Warning(
                "MAILTRAIL_DEMO is on: `manage.py demo_users` may create users with published passwords.",
                hint="Unset MAILTRAIL_DEMO on a production site.",
                id="accounts.W003",
            )
        )
    return problems


@register(Tags.security)
def check_content_security_policy(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The policy's header comes from our middleware; without it any injected script would run."""
    if "webui.accounts.middleware.ContentSecurityPolicyMiddleware" not in settings.MIDDLEWARE:
        return [Error("ContentSecurityPolicyMiddleware is not in MIDDLEWARE.", id="accounts.E002")]
    if "'unsafe-inline'" in settings.CONTENT_SECURITY_POLICY.split("script-src", 1)[-1].split(";", 1)[0]:
        return [Error("The Content-Security-Policy allows inline script.", id="accounts.E003")]
    return []
