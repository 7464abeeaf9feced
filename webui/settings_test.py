"""Settings for the test suite: production settings with a throwaway secret and fast hashing."""

import os
import secrets

# a fresh random key per run: the settings refuse a short or well-known one without DEBUG
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

from webui.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only

# Nothing is collected for tests (the live server serves static files from the apps), and
# whitenoise warns on every request about a STATIC_ROOT directory that does not exist.
STATIC_ROOT = None
