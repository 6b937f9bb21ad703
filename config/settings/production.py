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

from config.logs import LOG_FORMATS, logging_config  # noqa: E402
from config.settings.base import *  # noqa: E402, F403
from config.settings.base import LOG_LEVEL  # noqa: E402
from config.settings.base import env as _env  # noqa: E402

DEBUG = False
# JSON log lines for the log collector (LOG_FORMAT=plain keeps them readable).
LOG_FORMAT = _env.choice("LOG_FORMAT", choices=LOG_FORMATS, default="json")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = _env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# nginx ends TLS and says so in X-Forwarded-Proto; a plain-HTTP request is sent to HTTPS, except
# what is reached inside the deployment over plain HTTP: health checks, metrics scrapes and the
# container health check's static file.
SECURE_SSL_REDIRECT = _env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^static/"]
SECURE_HSTS_SECONDS = _env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = _env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Asking browsers to preload HSTS (hstspreload.org) binds the whole domain for months: the
    # domain's owner opts in with SECURE_HSTS_PRELOAD=true; it is not a default to warn about.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
EMAIL_BACKEND = _env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = _env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = _env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _env.bool("EMAIL_USE_TLS", default=True)
