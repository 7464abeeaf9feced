from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "webui.staff"
    verbose_name = _("Help desk")
    label = "staff"
