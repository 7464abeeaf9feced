"""`owner_required`: the owner's pages open only to a session that proved it owns a mailbox."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webui.accounts import mailbox_account


def owner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Strangers go to the sign-in page; a user signed in otherwise than as an owner gets 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if mailbox_account(request) is None:
            return render(request, "accounts/not_owner.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapped)
