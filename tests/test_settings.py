"""Production settings pass `check --deploy`; a misconfigured variable stops every entry point, naming it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.db import connection
from django.test import Client

from tests.dovecot_server import free_port
from webui.accounts.config import FIELDS, MailDomain, MailServer

PROJECT = Path(__file__).resolve().parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production web process, without this test run's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MAILTRAIL_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "webui.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_DEBUG": "no",
        "DJANGO_ALLOWED_HOSTS": "mailtrail.example.edu",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
        "DATABASE_URL": "postgresql://mailtrail_web@db.example.edu/mailtrail",  # check never connects
        "MAILTRAIL_DOMAINS": "students.example.edu,staff.example.edu",
        "MAILTRAIL_IMAP_HOST": "imap.example.edu",
        "MAILTRAIL_IMAP_SECURITY": "tls",
        "MAILTRAIL_TZ": "Asia/Taipei",
    }
    return env | overrides


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_passwords_would_cross_the_network_in_clear() -> None:
    env = production_env(MAILTRAIL_IMAP_SECURITY="none")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "accounts.W001" in result.stderr


def test_check_deploy_fails_on_a_debug_site() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(DJANGO_DEBUG="yes"))
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAILTRAIL_IMAP_PORT", "imap"),
        ("MAILTRAIL_IMAP_STUDENTS_EXAMPLE_EDU_SECURITY", "ssl"),
        ("MAILTRAIL_IMAP_HOTS", "imap.example.edu"),
        ("MAILTRAIL_SESSION_IDLE_SECONDS", "half an hour"),
        ("MAILTRAIL_LOCKOUT_FAILURES", "0"),
        ("MAILTRAIL_WEB_STATEMENT_TIMEOUT_MS", "-1"),
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "https"),
        ("DJANGO_DEBUG", "maybe"),
        ("DJANGO_SECRET_KEY", ""),
    ],
)
def test_a_misconfigured_variable_stops_startup_with_its_name(name: str, value: str) -> None:
    result = manage("check", env=production_env(**{name: value}))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert name in last_line


def env_example_value(name: str) -> str:
    (line,) = [x for x in (PROJECT / ".env.example").read_text().splitlines() if x.startswith(name + "=")]
    return line.partition("=")[2]


@pytest.mark.parametrize(
    "key",
    [
        env_example_value("DJANGO_SECRET_KEY"),  # .env.example copied and not edited
        "change-me-to-a-long-random-string",  # the placeholder older copies carry
        "dev-insecure-key-set-DJANGO_SECRET_KEY",
        "short-but-random-" + secrets.token_urlsafe(8),
        "django-insecure-" + secrets.token_urlsafe(50),
        "a" * 60,
    ],
)
def test_a_site_without_debug_refuses_to_start_with_a_placeholder_or_short_secret_key(key: str) -> None:
    result = manage("check", env=production_env(DJANGO_SECRET_KEY=key))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert "DJANGO_SECRET_KEY" in last_line


def test_a_500_in_production_writes_its_traceback_to_stderr() -> None:
    # a database nobody listens on: the sign-in page's captcha cannot be stored, a real 500
    env = production_env(DATABASE_URL=f"postgresql://mailtrail_web@127.0.0.1:{free_port()}/mailtrail")
    script = (
        "from django.test import Client; "
        "r = Client(raise_request_exception=False).get("
        "'/accounts/login/', secure=True, headers={'host': 'mailtrail.example.edu'}); "
        "print(r.status_code)"
    )
    result = manage("shell", "-c", script, env=env)
    assert result.stdout.strip().splitlines()[-1] == "500", result.stderr
    assert "ERROR django.request: Internal Server Error: /accounts/login/" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "OperationalError" in result.stderr


def test_gunicorns_entry_point_stops_the_same_way() -> None:
    env = production_env(MAILTRAIL_IMAP_SECURITY="ssl")
    result = subprocess.run(
        [sys.executable, "-c", "import webui.wsgi"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "MAILTRAIL_IMAP_SECURITY" in result.stderr.strip().splitlines()[-1]


@pytest.mark.django_db
def test_a_site_without_debug_redirects_plain_http_and_sends_hsts(settings) -> None:
    assert settings.SECURE_SSL_REDIRECT and settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    client = Client()
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert secure.cookies["csrftoken"]["secure"]


@pytest.mark.django_db
def test_the_web_role_has_a_statement_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (value,) = cursor.fetchone()
    assert value == "10s"


def test_check_refuses_captcha_test_mode_on_a_real_site(settings) -> None:
    settings.DEBUG = False
    settings.CAPTCHA_TEST_MODE = True
    found = {m.id for m in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])}
    assert "accounts.E001" in found


def test_check_warns_about_an_unverified_certificate(settings) -> None:
    server = MailServer("imap.example.edu", 993, "tls", 20, verify=False, ca_file=None)
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", server, "full")}
    found = {m.id for m in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])}
    assert "accounts.W002" in found


def test_check_refuses_a_policy_that_allows_inline_script(settings) -> None:
    settings.CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    assert [m.id for m in checks.run_checks(tags=[checks.Tags.security])] == ["accounts.E003"]


# --- every variable is documented (datasette's rule) ---------------------------------

_READ = re.compile(
    r"""(?:env_str|env_int|env_float|env_bool|env_list|env_zone|os\.environ\.get|os\.getenv|os\.environ\.setdefault)"""
    r"""\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# The machine's own zone variable: read only as a fallback, documented as MAILTRAIL_TZ's default.
_NOT_OURS = {"TZ"}


def variables_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for top in ("mailtrail", "ingest", "webui", "deploy"):
        for path in (PROJECT / top).rglob("*.py"):
            names |= set(_READ.findall(path.read_text(encoding="utf-8")))
    for compose in PROJECT.glob("docker-compose*.yml"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose.read_text(encoding="utf-8")))
    names |= {f"MAILTRAIL_IMAP_{field}" for field in FIELDS}
    return names - _NOT_OURS


@pytest.mark.parametrize("document", [".env.example", "docs/configuration.md"])
def test_every_variable_the_code_reads_is_documented(document: str) -> None:
    text = (PROJECT / document).read_text(encoding="utf-8")
    missing = sorted(name for name in variables_read_by_the_code() if not re.search(rf"\b{name}\b", text))
    assert missing == [], f"undocumented in {document}: {missing}"


def test_env_example_gives_each_variable_a_comment() -> None:
    lines = (PROJECT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"^#?[A-Z][A-Z0-9_]+=")
    for number, line in enumerate(lines):
        if assignment.match(line):
            above = lines[number - 1] if number else ""
            assert above.startswith("#") and not assignment.match(above), f"no comment above: {line}"
