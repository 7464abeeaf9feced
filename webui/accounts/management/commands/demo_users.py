"""`manage.py demo_users`: create alice and bob with known passwords (MAILTRAIL_DEMO only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webui.accounts.demo import DemoRefused, create_demo_users


class Command(BaseCommand):
    help = "Create or reset the demo users alice and bob with known passwords (MAILTRAIL_DEMO only)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            users = create_demo_users()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from None
        for username, password in users.items():
            self.stdout.write(f"{username}\t{password}")
