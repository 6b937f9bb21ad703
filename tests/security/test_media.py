"""Media reaches a browser only through views that check ownership: no URL serves MEDIA_ROOT (not
Django's, not nginx's), and someone else's audio is a 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.views import static

from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import key_client, make_sample

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_stored_audio_is_not_reachable_under_media_url(owner):
    job = job_finish(job_request(owner, make_ready_voice(owner, "Narrator")))
    assert (Path(settings.MEDIA_ROOT) / job.audio.name).is_file()
    client = signed_in(owner)
    assert client.get(f"/jobs/{job.code}/audio").status_code == 200  # the owner's way in
    media = "/" + settings.MEDIA_URL.strip("/") + "/"
    for path in (media + job.audio.name, media, media + job.audio.name.rsplit("/", 1)[0] + "/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert not response.has_header("Content-Disposition")


def test_someone_elses_audio_is_not_found(owner, stranger):
    job = job_finish(job_request(owner, make_ready_voice(owner, "Narrator")))
    sample = make_sample(owner, name="take.wav")
    theirs = signed_in(stranger)
    assert theirs.get(f"/jobs/{job.code}/audio").status_code == 404
    assert theirs.get(f"/voices/samples/{sample.code}/audio").status_code == 404
    api = key_client(stranger, ["all"])
    assert api.get(f"/api/v1/synthesis/{job.code}/audio").status_code == 404
    assert api.get(f"/api/v1/samples/{sample.code}/audio").status_code == 404
    assert signed_in(owner).get(f"/voices/samples/{sample.code}/audio").status_code == 200
    anonymous = Client().get(f"/jobs/{job.code}/audio")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def _views(patterns):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _views(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def test_no_url_pattern_serves_files_from_disk():
    served = [
        str(p.pattern)
        for p in _views(get_resolver().url_patterns)
        if p.callback in (static.serve, static.directory_index) or "media" in str(p.pattern).lower()
    ]
    assert served == []


def test_nginx_has_no_location_for_media():
    conf = Path(settings.BASE_DIR, "deploy", "nginx", "timbre.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert not re.search(r"location[^{]*media", code)
    roots = re.findall(r"\b(?:alias|root)\s+([^;]+);", code)
    assert roots and all("media" not in root for root in roots), roots
    assert "autoindex on" not in code
