"""URL routes of the accounts app: /accounts/login/ and /accounts/logout/."""

from django.urls import path

from webui.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
]
