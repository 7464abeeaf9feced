"""URL routes of the site."""

from django.contrib import admin
from django.urls import include, path

from webui.accounts.forms import AdminSignInForm

# The admin's sign-in gets the owner's captcha; both share one lock-out (django-axes).
admin.site.login_form = AdminSignInForm
admin.site.login_template = "accounts/admin_login.html"

urlpatterns = [
    path("", include("webui.records.urls")),
    path("accounts/", include("webui.accounts.urls")),
    path("staff/", include("webui.staff.urls")),
    path("alerts/", include("webui.alerts.urls")),
    path("captcha/", include("captcha.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
