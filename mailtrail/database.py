"""One database URL for both processes: DATABASE_URL, or an embedded PostgreSQL under ./var/."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlsplit

from mailtrail.env import ConfigError, env_int, env_str

PROJECT_DIR = Path(__file__).resolve().parent.parent

# pgserver returns a handle whose lifetime keeps the server up; keep it for the process.
_embedded: dict[str, object] = {}


def var_dir() -> Path:
    return Path(env_str("MAILTRAIL_VAR_DIR", str(PROJECT_DIR / "var"))).resolve()


def database_url() -> str:
    """A libpq URL (postgresql://…) for this process.

    With DATABASE_URL unset, an embedded PostgreSQL 16 (the pgserver wheel) is started, or
    joined if another mailtrail process already runs it, with its data in
    $MAILTRAIL_VAR_DIR/pgdata. pgserver stops the server when the last process using it exits,
    as it counts them: one killed before its exit hook ran still counts, and then the server
    stays up until stopped by hand (the next mailtrail process simply joins it).
    """
    url = os.environ.get("DATABASE_URL", "")
    if url:
        scheme = urlsplit(url).scheme
        if scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
            raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got scheme {scheme!r}")
        return url.replace("postgresql+psycopg://", "postgresql://", 1)
    return embedded_url(var_dir() / "pgdata")


class DatabaseUnavailable(Exception):
    """The database cannot be reached (and this process may not start it)."""


def running_database_url() -> str:
    """The database URL, without ever starting or stopping a server (for `ingest status`).

    With DATABASE_URL set it is that URL. Otherwise the embedded server is joined only when
    it runs already, by its postmaster.pid (socket directory and port), and not through
    pgserver, which would start a stopped server and stop it again when this process ends.
    """
    if os.environ.get("DATABASE_URL", ""):
        return database_url()
    pgdata = var_dir() / "pgdata"
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4]
    except (OSError, ValueError, IndexError):
        raise DatabaseUnavailable(f"the embedded PostgreSQL in {pgdata} is not running") from None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} is not running (stale postmaster.pid)"
        ) from None
    except PermissionError:
        pass  # running as another user (pgserver's, under root): it exists
    return f"postgresql://postgres:@/mailtrail?host={quote(socket_dir)}&port={port}"


def ingest_connect_args(application_name: str) -> dict[str, object]:
    """libpq settings of the ingester's connections.

    A lock held by someone else (a LOCK TABLE, a long ALTER or VACUUM FULL on event) must not
    hold the ingester for ever: after MAILTRAIL_INGEST_LOCK_TIMEOUT_MS its statement fails, it
    says so, and it retries (and hears SIGTERM meanwhile). The statement timeout bounds
    everything else; connect_timeout a host that does not answer at all.
    """
    lock_ms = env_int("MAILTRAIL_INGEST_LOCK_TIMEOUT_MS", 5000, minimum=0)
    statement_ms = env_int("MAILTRAIL_INGEST_STATEMENT_TIMEOUT_MS", 300000, minimum=0)
    return {
        "connect_timeout": 5,
        "application_name": application_name,
        "options": f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms}",
    }


def embedded_url(pgdata: Path, database: str = "mailtrail") -> str:
    key = str(pgdata)
    server = _embedded.get(key)
    if server is None:
        import warnings

        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI); harmless here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # heavy, and only wanted without DATABASE_URL

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        _embedded[key] = server
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    return f"postgresql://postgres:@/{database}?host={quote(str(pgdata))}"


def stop_embedded(pgdata: Path) -> None:
    """Let go of an embedded server this process started; the last process to do so stops it.

    Call it before removing the data directory: pgserver's own exit hook would otherwise find
    no directory to stop and leave the server running.
    """
    server = _embedded.pop(str(pgdata), None)
    if server is not None:
        server.cleanup()


def django_database(url: str | None = None) -> dict[str, object]:
    """Django's DATABASES entry for DATABASE_URL, or for the embedded server without starting it.

    The embedded server is started on the first connection (webui/db/base.py), so that
    importing settings never starts a server (pytest-django imports them very early).
    """
    url = url if url is not None else os.environ.get("DATABASE_URL", "")
    if not url:
        pgdata = var_dir() / "pgdata"
        return {
            "ENGINE": "webui.db",
            "NAME": "mailtrail",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": str(pgdata),
            "PORT": "",
            "EMBEDDED_PGDATA": str(pgdata),
            "OPTIONS": web_options({}),
        }
    url = database_url() if url is None else url
    from urllib.parse import parse_qs, unquote

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "ENGINE": "webui.db",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", parts.hostname or ""),
        "PORT": str(parts.port or query.pop("port", "")),
        "OPTIONS": web_options(query),
    }


def web_options(options: dict[str, str]) -> dict[str, str]:
    """libpq options plus the web role's statement timeout (MAILTRAIL_WEB_STATEMENT_TIMEOUT_MS, 0: none).

    A page must never hold the database for long, whatever its form let through.
    """
    ms = env_int("MAILTRAIL_WEB_STATEMENT_TIMEOUT_MS", 10000, minimum=0)
    if ms == 0:
        return options
    extra = f"-c statement_timeout={ms}"
    joined = f"{options['options']} {extra}" if options.get("options") else extra
    return {**options, "options": joined}


def sqlalchemy_url(url: str | None = None) -> str:
    """The same URL spelled for SQLAlchemy with the psycopg 3 driver."""
    url = url or database_url()
    return "postgresql+psycopg://" + url.split("://", 1)[1]
