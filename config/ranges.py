"""Stored files over HTTP with Range: 200 whole, 206 one byte range, 416 when it cannot fit.

One helper for every audio view (pages and APIs), so that an <audio> element can seek and a
download link really downloads. It reads through Django storage (`storage.size()`, `open()` and
`seek()`), so it works the same on the local disk and on S3.

- `parse_range`: the single range a `Range: bytes=...` header asks for (RFC 9110 section 14).
- `content_disposition`: `attachment` or `inline`, with a filename that is safe in a header.
- `ranged_file_response` / `storage_file_response`: the response itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from urllib.parse import quote

from django.http import HttpResponseBase, JsonResponse, StreamingHttpResponse

BLOCK_BYTES = 256 * 1024
_BYTES_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_TRUE = {"1", "true", "yes", "on"}


class RangeNotSatisfiable(ValueError):
    """A bytes range that is malformed or lies outside the file (answered with 416)."""

    def __init__(self, size: int, header: str):
        super().__init__(
            f"The range {header!r} does not fit the file's {size} bytes; ask for "
            "bytes=<first>-<last> with first <= last < size, bytes=<first>- or bytes=-<suffix>."
        )
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte range [first, last] a Range header asks for; None for the whole file.

    Other units and multi-range requests are answered with the whole file (RFC 9110 lets a
    server ignore Range); a bytes range that is malformed or outside the file raises
    RangeNotSatisfiable. A last byte beyond the end is cut to the end, as the RFC says.
    """
    if not header:
        return None
    compact = header.strip().lower().replace(" ", "")
    if not compact.startswith("bytes=") or "," in compact:
        return None
    match = _BYTES_RANGE.match(compact)
    if match is None or size <= 0:
        raise RangeNotSatisfiable(size, header)
    first, last = match.groups()
    if first == "" and last == "":
        raise RangeNotSatisfiable(size, header)
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size, header)
        return max(size - suffix, 0), size - 1
    start = int(first)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(size, header)
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


def wants_download(request) -> bool:
    """`?download=1` asks for an attachment (a real download) instead of inline playback."""
    return request.GET.get("download", "").strip().lower() in _TRUE


def safe_filename(name: str, *, fallback: str = "download") -> str:
    """An ASCII filename without quotes, slashes or control characters."""
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE_NAME.sub("-", ascii_name)).strip(".-")
    return cleaned[:120] or fallback


def content_disposition(filename: str, *, attachment: bool) -> str:
    kind = "attachment" if attachment else "inline"
    safe = safe_filename(filename)
    value = f'{kind}; filename="{safe}"'
    if safe != filename:  # keep the original name for clients that read RFC 5987
        value += f"; filename*=UTF-8''{quote(str(filename), safe='')}"
    return value


def ranged_file_response(
    request,
    open_file: Callable,
    *,
    size: int,
    content_type: str,
    filename: str,
    attachment: bool | None = None,
    on_complete: Callable[[], None] | None = None,
    cache_control: str = "private, no-transform",
) -> HttpResponseBase:
    """200 with the whole file, 206 with the asked range, or 416 (in the API's error shape).

    `open_file()` returns a readable, seekable binary file; it is opened only when the body is
    sent. `attachment=None` follows `?download=1`. `on_complete` runs once the last byte of the
    file has been handed to the server (a download that reaches the end).
    """
    if attachment is None:
        attachment = wants_download(request)
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable as exc:
        body = {
            "error": {
                "code": "range_not_satisfiable",
                "message": str(exc),
                "details": {"size": size},
            }
        }
        response = JsonResponse(body, status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = wanted if wanted is not None else (0, size - 1)
    length = max(last - first + 1, 0)
    reaches_end = last >= size - 1
    body = _file_blocks(open_file, first, length, on_complete if reaches_end else None)
    response = StreamingHttpResponse(body, content_type=content_type, status=206 if wanted else 200)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition(filename, attachment=attachment)
    response["Cache-Control"] = cache_control
    if wanted:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def storage_file_response(request, storage, name: str, *, size: int | None = None, **options):
    """`ranged_file_response` for a file in a Django storage (FileSystemStorage, S3, ...)."""
    if size is None:
        size = storage.size(name)
    return ranged_file_response(request, lambda: storage.open(name, "rb"), size=size, **options)


def _file_blocks(open_file, first: int, length: int, on_complete) -> Iterator[bytes]:
    if length <= 0:
        if on_complete is not None:
            on_complete()
        return
    handle = open_file()
    remaining = length
    try:
        handle.seek(first)
        while remaining > 0:
            block = handle.read(min(BLOCK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()
    if remaining == 0 and on_complete is not None:
        on_complete()
