"""The analysts' read-only database role: SELECT on the event table and the documented views only."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

# What analysts may read (docs/sql.md). The event partitions need no grant of their own:
# PostgreSQL checks privileges on the parent when a query goes through it, and refuses a
# direct read of a partition. Django's tables (users, sessions, the audit trail) stay closed.
READABLE = ("event", "sessions", "daily_account_summary", "failed_signins_by_ip")
STATEMENT_TIMEOUT = "5min"  # one runaway query should not hold a connection all night
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _session_limits(cur, role: str, scope: str) -> None:
    """The analysts' session settings on `role` (quoted); `scope` is "" or "IN DATABASE x"."""
    cur.execute(f"ALTER ROLE {role} {scope} SET default_transaction_read_only = on")
    cur.execute(f"ALTER ROLE {role} {scope} SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    cur.execute(f"ALTER ROLE {role} {scope} SET timezone = %s", [settings.TIME_ZONE])


def create_analyst_role(name: str, password: str | None = None, members: Iterable[str] = ()) -> bool:
    """Create (or bring up to date) the role `name`; LOGIN with `password`, else NOLOGIN.

    NOLOGIN makes a group role for people's own login roles: `members` are granted it here.
    PostgreSQL applies a role's settings (ALTER ROLE … SET) only to sessions that sign in as
    that very role, never to its members, so each member gets the same limits on its own
    role, for this database only (ALTER ROLE member IN DATABASE … SET). A member must be an
    existing role, not a superuser and not the role this command runs as (the web's own).
    Returns True when the role was created, False when it existed and was updated.
    """
    members = list(dict.fromkeys(members))
    for role in (name, *members):
        if not ROLE_NAME.match(role):
            raise ValueError(f"role name must be lower-case letters, digits and _, got {role!r}")
    if name in members:
        raise ValueError(f"{name} cannot be a member of itself")
    quoted = connection.ops.quote_name(name)
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with transaction.atomic(), connection.cursor() as cur:
        for member in members:
            cur.execute("SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s", [member])
            found = cur.fetchone()
            if found is None:
                raise ValueError(
                    f"member {member!r} is not a role of this server: CREATE ROLE {member} LOGIN first"
                )
            if found[0] or found[1]:
                raise ValueError(
                    f"member {member!r} is a superuser or the role this command runs as; "
                    "an analyst needs a login role of their own"
                )
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        exists = cur.fetchone() is not None
        if not exists:
            cur.execute(f"CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
        if password:
            cur.execute(f"ALTER ROLE {quoted} LOGIN PASSWORD %s", [password])
        else:
            cur.execute(f"ALTER ROLE {quoted} NOLOGIN")
        _session_limits(cur, quoted, "")
        cur.execute(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
        cur.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cur.execute(f"GRANT SELECT ON {', '.join(READABLE)} TO {quoted}")
        for member in members:
            member_quoted = connection.ops.quote_name(member)
            cur.execute(f"GRANT {quoted} TO {member_quoted}")
            _session_limits(cur, member_quoted, f"IN DATABASE {database}")
    return not exists
