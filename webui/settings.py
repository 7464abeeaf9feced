"""Django settings, read from environment variables (docs/configuration.md, .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from mailtrail.database import django_database
from mailtrail.env import ConfigError, env_bool, env_float, env_int, env_list, env_str, env_zone

from webui.accounts.config import read_mail_domains

BASE_DIR = Path(__file__).resolve().parent.parent


def _proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto: https` → Django's ("HTTP_X_FORWARDED_PROTO", "https")."""
    raw = env_str(name, "")
    if not raw:
        return None
    header, sep, value = raw.partition(":")
    if not sep or not header.strip() or not value.strip():
        raise ConfigError(f"{name} must look like 'X-Forwarded-Proto: https', got {raw!r}")
    return "HTTP_" + header.strip().upper().replace("-", "_"), value.strip()


def _site_url(name: str) -> str:
    """An absolute http(s) URL without a trailing slash, or empty."""
    raw = env_str(name, "").rstrip("/")
    parts = urlsplit(raw)
    if raw and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
        raise ConfigError(
            f"{name} must be the site's absolute URL such as https://mailtrail.example.edu, got {raw!r}"
        )
    if any(c in raw for c in " \r\n\t<>\"'"):
        raise ConfigError(f"{name} must be a plain URL, got {raw!r}")
    return raw


# Values that must never sign anything on a real site: the development key below, and the
# placeholder older copies of .env.example carried (the current one leaves the key empty).
_KNOWN_KEYS = {"dev-insecure-key-set-DJANGO_SECRET_KEY", "change-me-to-a-long-random-string"}


def _secret_key(debug: bool) -> str:
    """DJANGO_SECRET_KEY; without DEBUG it must be long and random (Django's own W009 rule, enforced)."""
    key = env_str("DJANGO_SECRET_KEY", "dev-insecure-key-set-DJANGO_SECRET_KEY" if debug else None)
    if not debug and (
        key in _KNOWN_KEYS or len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-")
    ):
        raise ConfigError(
            "DJANGO_SECRET_KEY must be a long random value (at least 50 characters, not a placeholder): "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return key


# A misconfigured variable stops every entry point (runserver, gunicorn, manage.py, tests)
# here, with the variable's name in the message.
try:
    DEBUG = env_bool("DJANGO_DEBUG", False)
    # Development without a secret gets a fixed, clearly-marked one; production must set a
    # real one: anyone who knows the key can forge sessions and the staff's signed links.
    SECRET_KEY = _secret_key(DEBUG)
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
    DATABASES = {"default": django_database()}
    # Keep connections between requests: a new one per request cost ~12 ms of PostgreSQL CPU
    # and halved throughput (bench/web.py). Health checks drop one the server has closed.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("MAILTRAIL_WEB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    TIME_ZONE = env_zone("MAILTRAIL_TZ").key  # the zone of the mail logs and of the day view

    # Served over HTTPS (the default without DEBUG): redirect plain HTTP, secure cookies, HSTS.
    HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
    SECURE_PROXY_SSL_HEADER = _proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

    # Owners sign in with account + domain; each domain's IMAP server judges the password.
    MAILTRAIL_MAIL_DOMAINS = read_mail_domains()
    MAILTRAIL_DEMO = env_bool("MAILTRAIL_DEMO", False)
    # How many reverse proxies append to X-Forwarded-For in front of the site (0: none);
    # the lock-out counts failures per client address, so it must see the real one.
    MAILTRAIL_PROXY_COUNT = env_int("MAILTRAIL_PROXY_COUNT", 0, minimum=0)

    # An idle session ends after this many seconds: every request moves the deadline on.
    SESSION_COOKIE_AGE = env_int("MAILTRAIL_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)

    AXES_FAILURE_LIMIT = env_int("MAILTRAIL_LOCKOUT_FAILURES", 5, minimum=1)
    AXES_COOLOFF_TIME = timedelta(minutes=env_int("MAILTRAIL_LOCKOUT_MINUTES", 15, minimum=1))

    # --- sign-in alerts (webui/alerts, `manage.py send_alerts`) --------------------------
    # The site's address as owners reach it: the alerts' links to the day view and to
    # unsubscribe are absolute. The sender refuses to start without it (demo: the demo's).
    MAILTRAIL_SITE_URL = _site_url("MAILTRAIL_SITE_URL")
    MAILTRAIL_ALERT_FAILED_SIGNINS = env_int("MAILTRAIL_ALERT_FAILED_SIGNINS", 10, minimum=1)
    MAILTRAIL_ALERT_DELETIONS = env_int("MAILTRAIL_ALERT_DELETIONS", 20, minimum=1)
    MAILTRAIL_ALERT_MAX_PER_HOUR = env_int("MAILTRAIL_ALERT_MAX_PER_HOUR", 5, minimum=1)
    MAILTRAIL_ALERT_POLL_SECONDS = env_float("MAILTRAIL_ALERT_POLL_SECONDS", 1.0, minimum=0.05)
    MAILTRAIL_ALERT_SETTLE_SECONDS = env_float("MAILTRAIL_ALERT_SETTLE_SECONDS", 2.0, minimum=0)
    # Mail through Django's SMTP backend; in demo mode without EMAIL_HOST, into files under
    # var/mail/ (one .log file per sender run) that the demo prints the path of.
    EMAIL_HOST = env_str("EMAIL_HOST", "")
    EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them")
    EMAIL_TIMEOUT = 30
    DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "mailtrail@localhost")
    if MAILTRAIL_DEMO and not EMAIL_HOST:
        EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
        EMAIL_FILE_PATH = str(Path(env_str("MAILTRAIL_VAR_DIR", str(BASE_DIR / "var"))) / "mail")
    else:
        EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        EMAIL_HOST = EMAIL_HOST or "localhost"

    LOG_LEVEL = env_str("MAILTRAIL_LOG_LEVEL", "INFO").upper()
    if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"MAILTRAIL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}")
except ConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "captcha",
    "axes",
    "webui.accounts",
    "webui.records",
    "webui.staff",
    "webui.alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webui.accounts.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, so that it sees the lock-out flag the sign-in view's authenticate() call set
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webui.urls"
WSGI_APPLICATION = "webui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webui" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- sign-in -------------------------------------------------------------------------
# Axes first: a locked-out account+address is refused before any password is checked.
# Local passwords serve the admin's sign-in only; the owner's form asks the demo (in demo
# mode) and the mail server. Only those two make a session that owns a mailbox
# (webui.accounts.mailbox_account).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "webui.accounts.backends.LocalPasswordBackend",
    "webui.accounts.backends.DemoBackend",
    "webui.accounts.backends.ImapBackend",
]
# The site's own notice and footer (docs/configuration.md): who runs it, whom owners ask.
MAILTRAIL_SITE_ORGANISATION = env_str("MAILTRAIL_SITE_ORGANISATION", "")
MAILTRAIL_SITE_ORGANISATION_EN = env_str("MAILTRAIL_SITE_ORGANISATION_EN", "") or MAILTRAIL_SITE_ORGANISATION
MAILTRAIL_SITE_CONTACT = env_str("MAILTRAIL_SITE_CONTACT", "")
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Lock out an account at one address, so that a guesser cannot lock alice out from afar,
# and one address cannot try many passwords for her.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "webui.accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "webui.accounts.middleware.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password"]
# One count per account for the owner's form and the admin's sign-in alike (`Alice@…` is alice)
AXES_USERNAME_CALLABLE = "webui.accounts.middleware.client_username"

CAPTCHA_FONT_SIZE = 30
CAPTCHA_LETTER_ROTATION = (-25, 25)
CAPTCHA_TIMEOUT = 10  # minutes a challenge stays valid

# --- transport and browser security ---------------------------------------------------
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script and no inline style anywhere: scripts are static files (the captcha
# refresh is webui/accounts/static/accounts/signin.js). webui/accounts/middleware.py sends it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- language and time ----------------------------------------------------------------
LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "正體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "webui" / "locale"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords never reach a log: the backend logs account names only, and Django's error
# reports hide POST fields named in sensitive_post_parameters (the sign-in view).
# Without DEBUG, Django's own configuration sends a 500's traceback only to ADMINS by mail;
# here it goes to stderr, where journald and `docker logs` keep it (docs/operations.md).
# With DEBUG, Django's console handler prints it already.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"production": {"()": "django.utils.log.RequireDebugFalse"}},
    "formatters": {"named": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "errors": {
            "class": "logging.StreamHandler",  # stderr
            "filters": ["production"],
            "formatter": "named",
            "level": "ERROR",
        },
    },
    "loggers": {
        "webui": {"handlers": ["console"], "level": LOG_LEVEL},
        "django.request": {"handlers": ["errors"], "level": "ERROR"},
    },
}
