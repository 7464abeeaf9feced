"""The sign-in forms: the owner's (account, domain, password, captcha, language) and the admin's."""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.validators import RegexValidator
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from webui.accounts.backends import MailServerUnavailable

# Dovecot's default auth_username_chars, less `@` (the domain is chosen separately).
account_validator = RegexValidator(
    r"^[A-Za-z0-9._+-]+\Z",
    _("Enter your account name: letters, digits and . _ + -"),
    code="account",
)


class SignInForm(forms.Form):
    """Checks the captcha first, then the password; one message for every wrong answer.

    Whether the account exists is never said: an unknown account and a wrong password get
    the same words, from the same place, after the same round trip to the mail server.
    """

    account = forms.CharField(
        label=_("Account"),
        max_length=64 + 1 + 253,  # the name, or the whole address typed out of habit
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    domain = forms.ChoiceField(label=_("Domain"))
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    captcha = CaptchaField(label=_("Verification code"))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, required=False)

    error_messages = {
        "invalid_login": _("The account or password is not correct."),
        "unavailable": _("The mail server cannot check passwords right now. Please try again later."),
        "locked_out": _("Too many failed sign-ins. Please wait a while and try again."),
    }

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: AbstractBaseUser | None = None
        self.typed_domain: str | None = None
        domains = list(settings.MAILTRAIL_MAIL_DOMAINS)
        self.fields["domain"].choices = [(d, "@" + d) for d in domains]
        self.fields["domain"].initial = domains[0] if domains else None
        if len(domains) == 1:
            # one domain: nothing to choose; the page shows it after the account box
            self.fields["domain"].widget = forms.HiddenInput()
        self.fields["language"].initial = request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else None

    def full_domain(self) -> str | None:
        """The one configured domain, when there is only one (shown as text)."""
        domains = list(settings.MAILTRAIL_MAIL_DOMAINS)
        return domains[0] if len(domains) == 1 else None

    def clean_account(self) -> str:
        """The account name; `alice@students.example.edu` typed whole picks its domain too."""
        account = self.cleaned_data["account"].strip().lower()
        if "@" in account:
            account, _at, domain = account.rpartition("@")
            if domain not in settings.MAILTRAIL_MAIL_DOMAINS:
                raise forms.ValidationError(account_validator.message, code="account")
            self.typed_domain = domain
        if len(account) > 64:
            raise forms.ValidationError(account_validator.message, code="account")
        account_validator(account)
        return account

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned  # a wrong captcha never reaches the mail server nor the lock-out count
        password = cleaned["password"]
        domain = self.typed_domain or cleaned["domain"]
        username = f"{cleaned['account']}@{domain}"
        try:
            user = authenticate(self.request, username=username, password=password, mailbox_sign_in=True)
        except MailServerUnavailable:
            # Counted like a wrong password (django-axes listens to this signal): a guesser must
            # not get free tries while the mail server is away, and the lock-out must not depend
            # on whether the mail server is up. The owner is told the server is unavailable.
            user_login_failed.send(sender=__name__, credentials={"username": username}, request=self.request)
            self._refuse_locked_out()
            raise forms.ValidationError(self.error_messages["unavailable"], code="unavailable") from None
        if user is None:
            self._refuse_locked_out()
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        if not user.is_active:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        self.user = user
        return cleaned

    def _refuse_locked_out(self) -> None:
        if getattr(self.request, "axes_locked_out", False):
            raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out")


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in (local staff passwords) behind the same captcha as the owner's form.

    Its failures count towards the same django-axes lock-out: both forms hand authenticate()
    a `username`, and webui.accounts.middleware.client_username makes them one name.
    """

    captcha = CaptchaField(label=_("Verification code"))

    def clean(self) -> dict[str, Any]:
        if self.errors:
            return self.cleaned_data  # a wrong captcha never reaches the password check nor the count
        return super().clean()
