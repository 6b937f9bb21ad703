"""The mixing page: pick 2-5 of your ready voices with weights; errors stay on the form."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from audit.models import AuditEvent
from tests.voices.helpers import make_ready_voice, make_stock_voice
from voices.models import Voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(owner):
    return [make_ready_voice(owner, "Alice", seed=1), make_ready_voice(owner, "Bob", seed=2)]


def post_mix(client, picks, name="Blend", extra=None):
    data = {"name": name, "voices": [str(v.code) for v, _ in picks]}
    data |= {f"weight-{v.code}": w for v, w in picks}
    return client.post("/voices/mix/", data | (extra or {}))


def test_the_list_links_to_the_mixing_page(client, owner, two):
    client.force_login(owner)
    assert 'href="/voices/mix/"' in client.get("/voices/").content.decode()
    page = client.get("/voices/mix/").content.decode()
    assert "Alice" in page and "Bob" in page and 'data-testid="mix-submit"' in page
    assert page.count('type="number"') == 2


def test_mix_two_ready_voices(client, owner, two):
    client.force_login(owner)
    response = post_mix(client, [(two[0], "3"), (two[1], "1")])
    mixed = Voice.objects.get(owner=owner, name="Blend")
    assert response.status_code == 302 and response["Location"] == f"/voices/{mixed.code}/"
    assert mixed.status == Voice.Status.READY and mixed.is_mix
    assert [(s["name"], s["weight"]) for s in mixed.mix_sources] == [("Alice", 0.75), ("Bob", 0.25)]
    assert AuditEvent.objects.filter(action="voices.voice.mixed", target_id=str(mixed.code))
    page = client.get(response["Location"]).content.decode()
    assert f'href="/speak/?voice={mixed.code}"' in page  # preview it in Speak
    assert "Alice (0.75)" in page


@pytest.mark.parametrize(
    "count, message", [(1, "Pick 2 to 5 voices (you picked 1)."), (6, "(you picked 6)")]
)
def test_too_few_or_too_many_voices_is_a_form_error(client, owner, count, message):
    voices = [make_ready_voice(owner, f"Voice {n}", seed=n) for n in range(max(count, 2))]
    client.force_login(owner)
    response = post_mix(client, [(v, "1") for v in voices[:count]])
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Voice.objects.filter(name="Blend").exists()


@pytest.mark.parametrize("weight", ["0", "-1", "abc", "", "nan"])
def test_bad_weight_is_a_form_error(client, owner, two, weight):
    client.force_login(owner)
    response = post_mix(client, [(two[0], weight), (two[1], "1")])
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="weight-error"' in page
    assert not Voice.objects.filter(name="Blend").exists()


def test_a_bad_weight_of_a_voice_left_out_does_not_matter(client, owner, two):
    owner.plan = Plan.objects.create(slug="five", name="Five", voice_slots=5)
    owner.save(update_fields=["plan"])
    third = make_ready_voice(owner, "Carol", seed=3)
    client.force_login(owner)
    extra = {f"weight-{third.code}": "x"}
    response = post_mix(client, [(two[0], "1"), (two[1], "1")], extra=extra)
    assert response.status_code == 302, response.content.decode()


def test_no_free_slot_disables_the_button_and_the_service_refuses(client, owner, two):
    make_ready_voice(owner, "Carol", seed=3)  # the default plan's three slots are used
    client.force_login(owner)
    page = client.get("/voices/mix/").content.decode()
    assert "voice slots are in use" in page and 'data-testid="mix-submit"' not in page
    response = post_mix(client, [(two[0], "1"), (two[1], "1")])
    assert response.status_code == 400 and "Your plan allows 3 voices" in response.content.decode()


def test_service_refusals_show_on_the_form(client, owner, two):
    client.force_login(owner)
    response = post_mix(client, [(two[0], "1"), (two[1], "1")], name="Alice")  # name taken
    assert response.status_code == 400
    assert "You already have a voice named" in response.content.decode()


def test_someone_elses_or_a_stock_voice_cannot_be_mixed(client, owner, stranger, two):
    theirs = make_ready_voice(stranger, "Theirs", seed=9)
    stock = make_stock_voice()
    client.force_login(owner)
    page = client.get("/voices/mix/").content.decode()
    assert "Theirs" not in page and "Stock Alba" not in page
    for other in (theirs, stock):
        response = post_mix(client, [(two[0], "1"), (other, "1")])
        assert response.status_code == 400
    assert not Voice.objects.filter(name="Blend").exists()


def test_stranger_sees_none_of_the_owners_voices_on_the_mix_page(client, stranger, two):
    client.force_login(stranger)
    response = client.get("/voices/mix/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alice" not in page and 'data-testid="mix-none"' in page
    assert "Mixing needs at least two ready voices" in page  # the disabled button says why
    response = post_mix(client, [(two[0], "1"), (two[1], "1")])
    assert response.status_code == 400 and not Voice.objects.filter(name="Blend").exists()


def test_anonymous_is_sent_to_log_in(client):
    assert client.get("/voices/mix/").status_code == 302
