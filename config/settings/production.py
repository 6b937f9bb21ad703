"""Production: every secret and host must come from the environment, or start-up stops."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env


def _require(name: str, hint: str) -> str:
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"Production settings need {name}: {hint}")
    return value


_require(
    "DJANGO_SECRET_KEY",
    "a long random string, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
)
_require("ALLOWED_HOSTS", "the comma-separated host names this site answers to.")
_require("DATABASE_URL", "e.g. postgres://timbre:PASSWORD@db-host:5432/timbre.")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import env as _env  # noqa: E402

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = _env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = _env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = _env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
EMAIL_BACKEND = _env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = _env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = _env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _env.bool("EMAIL_USE_TLS", default=True)
