"""Upload size limits enforced while the body streams in, and safe display names.

Two guards, both installed before anything reads the request body:

1. A usable Content-Length over the limit is refused before a byte of the body is read.
2. For bodies whose length is not known up front (a chunked request that the WSGI server
   de-chunks and marks `wsgi.input_terminated`) or whose file part alone is over the limit,
   `SizeLimitUploadHandler` counts file bytes as the multipart parser hands them over and stops
   the parse as soon as the limit is passed: the rest of the body is never read.

CSRF checks read `request.POST`, which parses the body; that is why the guard must be in place
before authentication (DRF: `UploadLimitMixin.initial`; plain views: csrf_exempt outside,
csrf_protect inside, as Django's docs on modifying upload handlers describe).
"""

from __future__ import annotations

import unicodedata

from django.core.files.uploadhandler import FileUploadHandler
from django.core.handlers.wsgi import LimitedStream
from django.db.models import Max

from accounts.models import Plan
from accounts.selectors import plan_default, plan_for_user
from config.service_errors import ServiceError

MB = 1_000_000
# Room for multipart boundaries, part headers and small form fields beside the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_DISPLAY_NAME = 255


class UploadTooLarge(ServiceError):
    def __init__(self, limit_bytes: int):
        super().__init__(
            code="upload_too_large",
            message=(
                f"The upload is larger than your plan's limit of {limit_bytes / MB:g} MB. "
                "Trim or compress the recording (a minute of speech is plenty) and try again."
            ),
            details={"limit_bytes": limit_bytes},
        )


def upload_limit_bytes(user) -> int:
    """The most bytes one upload of this user may have (their plan's max_upload_mb)."""
    if user is not None and getattr(user, "is_authenticated", False):
        plan = plan_for_user(user)
    else:
        plan = plan_default()
    return plan.max_upload_mb * MB


def _content_length(meta) -> int | None:
    try:
        value = int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return value if value >= 0 else None


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts file bytes across the whole request and raises UploadTooLarge past the limit.

    It runs first in the handler chain, so the bytes over the limit never reach the handlers
    that buffer to memory or temporary files. The limit is resolved when parsing starts: by
    then the request's user is known (the session user during a CSRF check, or the user DRF
    authenticated).
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit: int | None = None
        self.received = 0

    def _limit(self) -> int:
        if self.limit is None:
            self.limit = upload_limit_bytes(getattr(self.request, "user", None))
        return self.limit

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self._limit()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self._limit():
            raise UploadTooLarge(self._limit())
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler builds the UploadedFile


def upload_guard_install(request) -> None:
    """Refuse an over-long Content-Length now and install the streaming limit for the rest.

    `request` is the Django HttpRequest; call before anything reads its body. Raises
    UploadTooLarge (413).
    """
    if hasattr(request, "_upload_declared_length"):
        return
    request._upload_declared_length = _content_length(request.META)
    if getattr(getattr(request, "user", None), "is_authenticated", False):
        upload_content_length_check(request)  # a session user is known before authentication
    if request._upload_declared_length is None and request.META.get("wsgi.input_terminated"):
        _read_terminated_body(request)
    request.upload_handlers.insert(0, SizeLimitUploadHandler(request))


def upload_content_length_check(request) -> None:
    """UploadTooLarge if the declared body is longer than the user's limit allows."""
    length = getattr(request, "_upload_declared_length", None)
    limit = upload_limit_bytes(getattr(request, "user", None))
    if length is not None and length > limit + MULTIPART_OVERHEAD_BYTES:
        raise UploadTooLarge(limit)


def _read_terminated_body(request) -> None:
    # Django reads a body without Content-Length as empty. A server that de-chunks the body and
    # ends the stream itself (gunicorn sets wsgi.input_terminated) lets us read it to its end.
    # The stream is capped past the largest plan's limit (the user may not be known yet; the
    # handler applies their own limit), and the parser needs a positive length, so it gets the
    # cap.
    largest = Plan.objects.aggregate(mb=Max("max_upload_mb"))["mb"] or 0
    cap = max(largest * MB, upload_limit_bytes(None)) + MULTIPART_OVERHEAD_BYTES + 1
    request._stream = LimitedStream(request.META["wsgi.input"], cap)
    request.META["CONTENT_LENGTH"] = str(cap)


def display_name(name: str | None, *, fallback: str = "upload") -> str:
    """A client-sent file name made safe to show: last path part, no control characters.

    Only ever shown to the owner; storage paths are generated and never contain it.
    """
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    return name[:MAX_DISPLAY_NAME] or fallback


class UploadLimitMixin:
    """For DRF views that take uploads: installs the guard before authentication runs."""

    def initial(self, request, *args, **kwargs):
        if request.method in ("POST", "PUT", "PATCH"):
            upload_guard_install(request._request)
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH"):
            # An API-key user is known only now, and the body is still unread.
            upload_content_length_check(request._request)
