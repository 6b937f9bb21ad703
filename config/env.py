"""Strict environment parsing.

django-environ silently reads "ture" as False and raises bare ValueErrors that do not say which
variable was wrong. An operator must see the variable's name and what we expected instead.
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class StrictEnv(environ.Env):
    """An `environ.Env` whose every parse failure names the variable."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:
            raise
        except (ValueError, TypeError) as exc:
            raw = self.ENVIRON.get(var, "")
            message = f"Environment variable {var}={raw!r} is invalid: {exc}"
            raise ImproperlyConfigured(message) from exc

    def bool(self, var, default=environ.Env.NOTSET):
        raw = self.ENVIRON.get(var)
        if raw is None:
            if default is environ.Env.NOTSET:
                raise ImproperlyConfigured(f"Set the {var} environment variable.")
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"Environment variable {var}={raw!r} is not a boolean: use one of 1/0, true/false, "
            "yes/no, on/off."
        )

    def choice(self, var, *, choices, default):
        value = self.str(var, default=default).strip().lower()
        if value not in choices:
            raise ImproperlyConfigured(
                f"Environment variable {var}={value!r} must be one of: {', '.join(choices)}."
            )
        return value


env = StrictEnv()
