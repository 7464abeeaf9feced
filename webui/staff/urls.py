"""URL routes of the staff app."""

from django.urls import path

from webui.staff import views

app_name = "staff"
urlpatterns = [
    path("", views.search, name="search"),
    path("export.csv", views.export_csv, name="export"),
    path("timeline.svg", views.timeline_svg, name="timeline"),
]
