"""URL routes of the records app."""

from django.urls import path

from webui.records import views

app_name = "records"
urlpatterns = [
    path("", views.day, name="day"),
    path("export.csv", views.export_csv, name="export"),
    path("timeline.svg", views.timeline_svg, name="timeline"),
    path("search/", views.search, name="search"),
    path("lookups/", views.staff_lookups, name="lookups"),
]
