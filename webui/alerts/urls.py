"""URL routes of the alerts app."""

from django.urls import path

from webui.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_settings, name="settings"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
