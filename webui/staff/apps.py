from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "webui.staff"
    label = "staff"
