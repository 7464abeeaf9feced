"""`manage.py create_analyst_role NAME [--login] [--member ROLE ...]`: a read-only PostgreSQL role for analysts."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from webui.staff.analysts import READABLE, create_analyst_role


class Command(BaseCommand):
    help = (
        "Create or update a read-only PostgreSQL role that may SELECT from the event table and "
        "the analysts' views (docs/sql.md), and nothing else. Without --login it is a group role "
        "for people's own login roles: name them with --member, which grants the role and gives "
        "each member the same limits in this database (read-only, 5-minute statements, the site's "
        "time zone); PostgreSQL does not pass a role's settings on to its members. Rerun it to add "
        "a member. Run it as a database user allowed to create roles."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="role name, e.g. mailtrail_analyst")
        parser.add_argument(
            "--login",
            action="store_true",
            help="let the role sign in; the password is read from standard input (never the command line)",
        )
        parser.add_argument(
            "--member",
            action="append",
            default=[],
            metavar="ROLE",
            help="an existing login role to grant this role to, with the analysts' limits set on it; repeat for more",
        )

    def handle(self, *args, name: str, login: bool, member: list[str], **options) -> None:
        password = None
        if login:
            if sys.stdin.isatty():
                password = getpass.getpass(f"Password for {name}: ")
            else:
                password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("--login needs a password on standard input")
        try:
            created = create_analyst_role(name, password, member)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        verb = "created" if created else "updated"
        kind = "LOGIN" if login else "NOLOGIN"
        self.stdout.write(f"role {name} {verb} ({kind}), may SELECT from: {', '.join(READABLE)}")
        for role in member:
            self.stdout.write(f"granted to {role}, with the analysts' limits in this database")
