"""URL routes of the records app."""

from django.urls import path  # noqa: F401

app_name = "records"
urlpatterns: list = []
