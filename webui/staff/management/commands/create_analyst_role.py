"""`manage.py create_analyst_role NAME [--login]`: a read-only PostgreSQL role for analysts."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from webui.staff.analysts import READABLE, create_analyst_role


class Command(BaseCommand):
    help = (
        "Create or update a read-only PostgreSQL role that may SELECT from the event table and "
        "the analysts' views (docs/sql.md), and nothing else. Without --login it is a group role "
        "to grant to people's own roles. Run it as a database user allowed to create roles."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="role name, e.g. mailtrail_analyst")
        parser.add_argument(
            "--login",
            action="store_true",
            help="let the role sign in; the password is read from standard input (never the command line)",
        )

    def handle(self, *args, name: str, login: bool, **options) -> None:
        password = None
        if login:
            if sys.stdin.isatty():
                password = getpass.getpass(f"Password for {name}: ")
            else:
                password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("--login needs a password on standard input")
        try:
            created = create_analyst_role(name, password)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        verb = "created" if created else "updated"
        kind = "LOGIN" if login else "NOLOGIN"
        self.stdout.write(f"role {name} {verb} ({kind}), may SELECT from: {', '.join(READABLE)}")
