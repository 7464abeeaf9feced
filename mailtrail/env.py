"""Typed readers for environment variables that fail loudly with the variable's name."""

from __future__ import annotations

import os
import zoneinfo


class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message names it."""


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"{name} is required but not set")
        return default
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of yes/no/true/false/1/0, got {raw!r}")


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks are dropped."""
    raw = os.environ.get(name, "")
    if raw.strip() == "":
        return list(default or [])
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_zone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA time zone; unset means the machine's own zone."""
    return to_zone(os.environ.get(name, ""), name)


def to_zone(raw: str | None, name: str) -> zoneinfo.ZoneInfo:
    """An IANA time zone from a setting or option called `name`; empty means the machine's zone."""
    if not raw:
        return local_zone()
    try:
        return zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as Asia/Taipei, got {raw!r}") from None


def local_zone() -> zoneinfo.ZoneInfo:
    """The machine's zone, from TZ or /etc/localtime, falling back to UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            return zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            return zoneinfo.ZoneInfo(target.split(marker, 1)[1])
    except (OSError, zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    try:
        with open("/etc/timezone") as fh:
            return zoneinfo.ZoneInfo(fh.read().strip())
    except (OSError, zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
