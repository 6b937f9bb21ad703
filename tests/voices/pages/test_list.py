"""The voice list: search, engine and language names, status badges, a preview per voice."""

from __future__ import annotations

import pytest

from tests.voices.helpers import make_ready_voice, make_stock_voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def voices(owner):
    return {
        "reader": make_ready_voice(owner, "Morning reader", seed=1, language="de"),
        "narrator": make_ready_voice(owner, "Night narrator", seed=2),
        "stock": make_stock_voice(),
    }


def test_search_filters_by_name_on_the_server(client, owner, voices):
    client.force_login(owner)
    page = client.get("/voices/", {"q": "READER"}).content.decode()
    assert "Morning reader" in page
    assert "Night narrator" not in page and "Stock Alba" not in page
    assert 'value="READER"' in page  # the search box keeps what was asked
    empty = client.get("/voices/", {"q": "nobody"}).content.decode()
    assert "No voice matches" in empty and "Morning reader" not in empty


def test_engine_and_language_names_not_codes(client, owner, voices):
    client.force_login(owner)
    page = client.get("/voices/").content.decode()
    assert "XTTS v2" in page  # the engine's label, not "xtts"
    assert "German" in page  # the reader's own language, first among those it speaks
    assert ">de<" not in page and ">en<" not in page
    assert 'data-label="Languages"' in page  # cards on a phone


def test_every_voice_with_a_sample_has_a_preview_and_stock_voices_are_listed(client, owner, voices):
    client.force_login(owner)
    page = client.get("/voices/").content.decode()
    for key in ("reader", "narrator"):
        sample = voices[key].samples.get()
        assert f'src="/voices/samples/{sample.code}/audio"' in page
    assert "Stock Alba" in page and "stock voice" in page
    assert f"/speak/?voice={voices['stock'].code}" in page  # no sample: try it in Speak
    assert 'class="badge ok"' in page


def test_list_query_count_does_not_grow_with_voices(
    client, owner, voices, django_assert_max_num_queries
):
    client.force_login(owner)
    client.get("/voices/")  # warm caches (session, plan)
    with django_assert_max_num_queries(12):
        client.get("/voices/")
    for n in range(5):
        make_ready_voice(owner, f"Extra {n}", seed=10 + n)
    with django_assert_max_num_queries(12):
        page = client.get("/voices/").content.decode()
    assert "Extra 4" in page


def test_stranger_does_not_see_the_owners_voices(client, stranger, voices):
    client.force_login(stranger)
    page = client.get("/voices/").content.decode()
    assert "Morning reader" not in page and "Stock Alba" in page
