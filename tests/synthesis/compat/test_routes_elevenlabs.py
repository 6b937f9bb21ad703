"""ElevenLabs routes that were missing (issue 13): GET /v2/voices (voices.search), voice settings
and their defaults, GET /v1/user. Shapes are checked with the SDK's own pydantic models."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from elevenlabs.types import GetVoicesV2Response, User, VoiceSettings

from tests.synthesis.compat.support import api_key, bearer_client, eleven_client, xi_client
from tests.voices.helpers import make_ready_voice, make_stock_voice
from voices.models import Voice

pytestmark = pytest.mark.django_db

SEARCH = "/v2/voices"


@pytest.fixture
def voices(owner, stranger):
    """Own voices created a day apart (Cleo newest), one stock voice, a stranger's voice."""
    made = {
        "Anna": make_ready_voice(owner, "Anna", language="en", labels={"gender": "female"}),
        "Bert": make_ready_voice(owner, "Bert", language="de", labels={"accent": "bavarian"}),
        "Cleo": make_ready_voice(owner, "Cleo", description="Warm narrator", labels={}),
        "Stock": make_stock_voice(name="Stock Alba"),
    }
    for days, name in enumerate(["Stock", "Anna", "Bert", "Cleo"]):
        created = timezone.now() - dt.timedelta(days=10 - days)
        Voice.objects.filter(pk=made[name].pk).update(created_at=created)
    make_ready_voice(stranger, "Anna's twin", labels={"gender": "female"})
    return made


def _names(body) -> list[str]:
    return [v["name"] for v in body["voices"]]


def test_search_pages_with_the_token_in_the_sdk_shape(owner, voices, django_assert_max_num_queries):
    client = xi_client(api_key(owner, "voices:read"))
    with django_assert_max_num_queries(9):
        first = client.get(SEARCH, {"page_size": 2}).json()
    parsed = GetVoicesV2Response.model_validate(first)  # strict validation, not construct
    assert (parsed.has_more, parsed.total_count) == (True, 4)
    assert _names(first) == ["Anna", "Bert"]  # by name by default; the stranger's is not there
    rest = client.get(SEARCH, {"page_size": 2, "next_page_token": parsed.next_page_token}).json()
    assert (_names(rest), rest["has_more"], rest["next_page_token"]) == (
        ["Cleo", "Stock Alba"],
        False,
        None,
    )


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"search": "anna"}, ["Anna"]),
        ({"search": "narrator"}, ["Cleo"]),  # the description
        ({"search": "BAVARIAN"}, ["Bert"]),  # a label value
        ({"search": "premade"}, ["Stock Alba"]),  # the category, as ElevenLabs searches it
        ({"voice_type": "personal"}, ["Anna", "Bert", "Cleo"]),
        ({"voice_type": "default"}, ["Stock Alba"]),
        ({"voice_type": "community"}, []),
        ({"category": "cloned"}, ["Anna", "Bert", "Cleo"]),
        ({"category": "premade", "voice_type": "personal"}, []),
        ({"gender": "Female"}, ["Anna"]),
        ({"language": "de"}, ["Bert"]),
        ({"sort": "created_at_unix"}, ["Cleo", "Bert", "Anna", "Stock Alba"]),  # newest first
        ({"sort": "name", "sort_direction": "desc"}, ["Stock Alba", "Cleo", "Bert", "Anna"]),
    ],
)
def test_search_filters_and_sorts(owner, voices, query, names):
    body = xi_client(api_key(owner, "voices:read")).get(SEARCH, query).json()
    assert _names(body) == names
    assert body["total_count"] == len(names)


def test_search_by_repeated_voice_ids(owner, voices):
    client = xi_client(api_key(owner, "voices:read"))
    ids = [str(voices["Cleo"].code), str(voices["Anna"].code), "not-an-id"]
    assert _names(client.get(SEARCH, {"voice_ids": ids}).json()) == ["Anna", "Cleo"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"next_page_token": "abc"}, "next_page_token"),
        ({"sort": "age"}, "sort"),
        ({"voice_type": "everything"}, "voice_type"),
    ],
)
def test_search_refuses_bad_parameters_in_both_shapes(owner, voices, query, field):
    response = xi_client(api_key(owner, "voices:read")).get(SEARCH, query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["message"].startswith(f"{field}:")
    assert body["detail"]["message"] == body["error"]["message"]


def test_search_needs_the_read_scope(owner, voices):
    assert xi_client(api_key(owner, "tts")).get(SEARCH).status_code == 403
    assert xi_client("wrong-key").get(SEARCH).status_code == 401


def test_voice_settings_and_the_defaults(owner, stranger, voices, settings):
    settings.SYNTHESIS_DEFAULT_PARAMS = {"speed": 1.25}
    client = xi_client(api_key(owner, "voices:read"))
    for path in (f"/v1/voices/{voices['Anna'].code}/settings", "/v1/voices/settings/default"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        parsed = VoiceSettings.model_validate(response.json())
        assert (parsed.speed, parsed.stability, parsed.use_speaker_boost) == (1.25, 0.5, True)
    stock = client.get(f"/v1/voices/{voices['Stock'].code}/settings")
    assert stock.status_code == 200
    strangers = xi_client(api_key(stranger, "voices:read"))
    hidden = strangers.get(f"/v1/voices/{voices['Anna'].code}/settings")
    assert (hidden.status_code, hidden.json()["detail"]["status"]) == (404, "voice_not_found")
    # "settings" is no voice id: /v1/voices/settings answers 404, not a voice
    assert client.get("/v1/voices/settings").json()["detail"]["status"] == "voice_not_found"


def test_user_wraps_the_subscription(owner, voices):
    secret = api_key(owner, "usage:read")
    body = xi_client(secret).get("/v1/user").json()
    user = User.model_validate(body)  # strict: every required field, right types
    assert user.user_id == str(owner.code)
    assert user.subscription.voice_slots_used == 3
    assert body["subscription"] == xi_client(secret).get("/v1/user/subscription").json()
    assert user.xi_api_key_preview and secret.startswith(user.xi_api_key_preview.rstrip("."))
    assert xi_client(api_key(owner, "tts")).get("/v1/user").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_sdk_calls_the_new_routes(live_server, owner, stranger):
    voice = make_ready_voice(owner, "Anna", labels={"accent": "british"})
    make_ready_voice(owner, "Bert")
    make_ready_voice(stranger, "Hidden")
    client = eleven_client(live_server, api_key(owner, "voices:read", "usage:read"))
    page = client.voices.search(page_size=1, search="a", sort="name")
    assert ([v.name for v in page.voices], page.has_more, page.total_count) == (["Anna"], False, 1)
    assert client.voices.search(voice_ids=[str(voice.code)]).voices[0].labels == {
        "accent": "british"
    }
    assert client.voices.settings.get(str(voice.code)).speed == 1.0
    assert client.voices.settings.get_default().similarity_boost == 0.75
    me = client.user.get()
    assert (me.user_id, me.subscription.voice_slots_used) == (str(owner.code), 2)
    # OpenAI clients' keys work here too (bearer): one key, every surface.
    assert bearer_client(api_key(owner, "voices:read")).get(SEARCH).status_code == 200
