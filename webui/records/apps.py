from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "webui.records"
    label = "records"
