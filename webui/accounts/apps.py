"""Sign-in of mailbox owners (IMAP password check, captcha, lock-out) and of staff."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "webui.accounts"
    label = "accounts"

    def ready(self) -> None:
        from webui.accounts import checks  # noqa: F401 - registers the system checks
