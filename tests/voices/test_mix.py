"""Voice mixes: weighted blends of the owner's ready voices, computed in the web process."""

from __future__ import annotations

import numpy as np
import pytest

from accounts.models import Plan
from audit.models import AuditEvent
from tests.voices.helpers import fake_conditioning, make_ready_voice, make_stock_voice
from voices.models import Voice
from voices.services import mix_spec_parse
from voices.services.conditioning import conditioning_load, conditioning_store

pytestmark = pytest.mark.django_db


def mix(client, voices, name="Blend"):
    return client.post("/api/v1/voices/mix", {"name": name, "voices": voices}, format="json")


def error_code(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def alice(owner):
    return make_ready_voice(owner, "Alice", seed=1)


@pytest.fixture
def bob(owner):
    return make_ready_voice(owner, "Bob", seed=2)


def test_list_form_blends_the_conditionings_by_normalised_weight(owner_client, alice, bob):
    response = mix(
        owner_client, [{"id": str(alice.code), "weight": 3}, {"id": str(bob.code), "weight": 1}]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["is_mix"]) == ("ready", True)
    assert [(s["name"], s["weight"]) for s in body["mix_sources"]] == [
        ("Alice", 0.75),
        ("Bob", 0.25),
    ]
    voice = Voice.objects.get(code=body["id"])
    mixed, a, b = (conditioning_load(v) for v in (voice, alice, bob))
    for name in a.arrays:
        expected = 0.75 * a.arrays[name] + 0.25 * b.arrays[name]
        np.testing.assert_allclose(mixed.arrays[name], expected, rtol=1e-5, atol=1e-6)
    assert AuditEvent.objects.filter(action="voices.voice.mixed", target_id=str(voice.code))


def test_string_form(owner_client, alice, bob):
    response = mix(owner_client, "Alice(2)+Bob")
    assert response.status_code == 201, response.content
    weights = {s["name"]: s["weight"] for s in response.json()["mix_sources"]}
    assert weights == pytest.approx({"Alice": 2 / 3, "Bob": 1 / 3})


def test_mix_spec_parser():
    assert mix_spec_parse(" My voice (1.5) + Other ") == [("My voice", 1.5), ("Other", 1.0)]


@pytest.mark.parametrize("weight", [0, -1, "abc", None, "nan"])
def test_zero_negative_or_non_numeric_weight_is_400(owner_client, alice, bob, weight):
    response = mix(
        owner_client,
        [{"id": str(alice.code), "weight": weight}, {"id": str(bob.code), "weight": 1}],
    )
    assert response.status_code == 400
    assert not Voice.objects.filter(name="Blend").exists()


@pytest.mark.parametrize("spec", ["Alice(0)+Bob(1)", "Alice(-2)+Bob", "Alice(x)+Bob"])
def test_zero_or_negative_weight_in_the_string_form_is_400(owner_client, alice, bob, spec):
    response = mix(owner_client, spec)
    assert (response.status_code, error_code(response)) == (400, "invalid_weight")


def test_stock_voice_cannot_be_mixed(owner_client, alice):
    stock = make_stock_voice()
    response = mix(
        owner_client, [{"id": str(alice.code), "weight": 1}, {"id": str(stock.code), "weight": 1}]
    )
    assert (response.status_code, error_code(response)) == (400, "stock_voice_not_mixable")
    response = mix(owner_client, "Alice+Stock Alba")
    assert (response.status_code, error_code(response)) == (400, "stock_voice_not_mixable")


def test_another_engines_voice_cannot_be_mixed(owner_client, owner, alice):
    other = Voice.objects.create(owner=owner, name="Other engine", engine="piper")
    conditioning_store(voice=other, conditioning=fake_conditioning(5, engine="piper"))
    response = mix(owner_client, "Alice+Other engine")
    assert (response.status_code, error_code(response)) == (400, "engine_mismatch")


def test_different_shapes_cannot_be_mixed(owner_client, owner, alice):
    odd = Voice.objects.create(owner=owner, name="Odd")
    shapes = {"gpt_cond_latent": (1, 16, 1024), "speaker_embedding": (1, 512, 1)}
    conditioning_store(voice=odd, conditioning=fake_conditioning(5, shapes=shapes))
    Voice.objects.filter(pk=odd.pk).update(conditioning_version=alice.conditioning_version)
    response = mix(owner_client, "Alice+Odd")
    assert (response.status_code, error_code(response)) == (400, "voices_not_mixable")


def test_someone_elses_voice_is_404(owner_client, alice, stranger):
    theirs = make_ready_voice(stranger, "Theirs", seed=3)
    response = mix(
        owner_client, [{"id": str(alice.code), "weight": 1}, {"id": str(theirs.code), "weight": 1}]
    )
    assert response.status_code == 404
    assert mix(owner_client, "Alice+Theirs").status_code == 404


def test_count_duplicates_and_readiness(owner_client, owner, alice, bob):
    assert error_code(mix(owner_client, "Alice")) == "invalid_mix"
    assert error_code(mix(owner_client, "Alice+Alice")) == "invalid_mix"
    extra = [make_ready_voice(owner, f"V{i}", seed=10 + i) for i in range(4)]
    six = "+".join(["Alice", "Bob", *(v.name for v in extra)])
    assert error_code(mix(owner_client, six)) == "invalid_mix"
    Voice.objects.create(owner=owner, name="Busy", status=Voice.Status.BUILDING)
    response = mix(owner_client, "Alice+Busy")
    assert (response.status_code, error_code(response)) == (409, "voice_not_ready")


def test_mixes_take_a_voice_slot(owner_client, owner, alice, bob):
    owner.plan = Plan.objects.create(slug="two", name="Two", voice_slots=2)
    owner.save(update_fields=["plan"])
    response = mix(owner_client, "Alice+Bob")
    assert (response.status_code, error_code(response)) == (409, "voice_slots_exhausted")
