"""The mailbox owner's pages over the event table: day view, summary, search, export."""

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "webui.records"
    verbose_name = _("Mail records")
    label = "records"

    def ready(self) -> None:
        # A malformed MAILTRAIL_CAMPUS_NETWORKS stops every entry point at start, naming the
        # variable, rather than failing the first page that draws a summary.
        from mailtrail.env import ConfigError

        from webui.records.queries import campus_networks

        try:
            campus_networks()
        except ConfigError as exc:
            raise ImproperlyConfigured(str(exc)) from None
