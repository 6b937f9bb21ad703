"""config.ranges: parsing a Range header, and the response it gives (no views involved)."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import RequestFactory

from config.ranges import (
    RangeNotSatisfiable,
    content_disposition,
    parse_range,
    safe_filename,
    storage_file_response,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=500-", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file: the whole file
        ("bytes=990-5000", (990, 999)),  # the last byte is cut to the end
        ("BYTES = 10-20", (10, 20)),
        ("bytes=0-0,5-9", None),  # multi-range: ignored, the whole file
        ("items=0-9", None),  # another unit: ignored
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5-4", "bytes=-0", "bytes=-", "bytes=abc", "bytes=1-2-3"]
)
def test_unsatisfiable_ranges(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, SIZE)


def test_any_range_of_an_empty_file_is_unsatisfiable():
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)
    assert parse_range(None, 0) is None


def test_filenames_are_safe_in_a_header():
    assert safe_filename('evil"; name=\r\n/../x.mp3') == "evil-name-.-x.mp3"
    assert safe_filename("") == "download"
    value = content_disposition("café.mp3", attachment=True)
    assert value.startswith('attachment; filename="cafe.mp3"')
    assert "filename*=UTF-8''caf%C3%A9.mp3" in value
    assert content_disposition("a.wav", attachment=False) == 'inline; filename="a.wav"'


@pytest.fixture
def stored(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    data = bytes(range(256)) * 4
    name = storage.save("a.bin", ContentFile(data))
    return storage, name, data


def _get(storage, name, *, query="", **headers):
    request = RequestFactory().get(f"/f{query}", headers=headers)
    return storage_file_response(
        request, storage, name, content_type="audio/mpeg", filename="take one.mp3"
    )


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file_is_inline_with_accept_ranges(stored):
    storage, name, data = stored
    response = _get(storage, name)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"].startswith("inline;")
    assert _body(response) == data


def test_a_range_is_206_with_content_range(stored):
    storage, name, data = stored
    response = _get(storage, name, Range="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert response["Content-Length"] == "10"
    assert _body(response) == data[10:20]
    tail = _get(storage, name, Range="bytes=-4")
    assert tail["Content-Range"] == f"bytes {len(data) - 4}-{len(data) - 1}/{len(data)}"
    assert _body(tail) == data[-4:]


def test_out_of_range_is_416(stored):
    storage, name, data = stored
    response = _get(storage, name, Range=f"bytes={len(data)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"
    assert b"range_not_satisfiable" in response.content


def test_download_asks_for_an_attachment(stored):
    storage, name, _ = stored
    response = _get(storage, name, query="?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="take-one.mp3"; ' + (
        "filename*=UTF-8''take%20one.mp3"
    )


def test_storage_without_a_local_path_works(stored):
    """S3-like storages have no path(): only size() and open() + seek() are used."""
    _, _, data = stored

    class RemoteStorage:
        def size(self, name):
            return len(data)

        def open(self, name, mode="rb"):
            return io.BytesIO(data)

    response = _get(RemoteStorage(), "x", Range="bytes=100-")
    assert response.status_code == 206
    assert _body(response) == data[100:]
