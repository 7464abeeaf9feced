"""URL routes of the site."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("webui.records.urls")),
    path("accounts/", include("webui.accounts.urls")),
    path("staff/", include("webui.staff.urls")),
    path("captcha/", include("captcha.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
