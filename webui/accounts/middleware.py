"""The Content-Security-Policy header, and the client address the lock-out counts against.

Django 5.2 has no CSP of its own. Our policy is one fixed string with no nonces (there is
no inline script to allow), so a few lines here serve where django-csp would add a
dependency and a dozen settings.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every response that sets none itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one MAILTRAIL_PROXY_COUNT proxies vouch for.

    Each trusted proxy appends the address it saw to X-Forwarded-For, so with N proxies the
    client is the N-th entry from the right; anything left of it the client could have forged.
    """
    count = settings.MAILTRAIL_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if count == 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return hops[-count] if len(hops) >= count else remote


def client_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The name the lock-out counts against: the same for the owner's form and the admin's.

    Both hand authenticate() a `username` (the owner's form as `account@domain`); case and
    surrounding space do not make a new name to guess under.
    """
    if credentials:
        name = credentials.get("username")
    else:
        name = request.POST.get("username")
    return name.strip().lower() if isinstance(name, str) else None
