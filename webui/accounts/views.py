"""Sign-in, sign-out and the lock-out page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from webui.accounts.forms import SignInForm

TEMPLATE = "accounts/login.html"


def _chosen_language(request: HttpRequest) -> str | None:
    """A language the owner picked on this page (form field, or ?language= from the script)."""
    code = request.POST.get("language") or request.GET.get("language")
    return code if code in dict(settings.LANGUAGES) else None


def _remember_language(response: HttpResponse, code: str | None) -> HttpResponse:
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure())
    return wanted if safe else resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    """The owner's sign-in page. Staff sign in here too, or at the admin."""
    language = _chosen_language(request)
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language
    if request.method == "POST":
        form = SignInForm(request, data=request.POST)
        if form.is_valid():
            auth_login(request, form.user)
            return _remember_language(HttpResponseRedirect(_next_url(request)), language)
        status = 503 if form.has_error("__all__", "unavailable") else 200
    else:
        if request.user.is_authenticated and not language:
            return HttpResponseRedirect(_next_url(request))
        form = SignInForm(request)
        status = 200
    context = {"form": form, "next": _next_url(request)}
    return _remember_language(render(request, TEMPLATE, context, status=status), language)


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' lock-out response: the sign-in page with one message for every account."""
    form = SignInForm(request)
    context = {"form": form, "locked_out": True, "next": _next_url(request)}
    return render(request, TEMPLATE, context, status=429)


class SignOutView(LogoutView):
    """POST only (Django's LogoutView): a link or an image cannot sign anyone out."""

    next_page = settings.LOGOUT_REDIRECT_URL
