import json

import pytest
from openapi_spec_validator import validate


@pytest.mark.django_db
def test_schema_endpoint_validates(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert "/api/v1/me" in spec["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_render(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_anonymous_gets_error_shape_and_version_header(api_client):
    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "not_authenticated"
    assert body["error"]["message"]
    assert body["error"]["details"] == {}
    assert response["API-Version"] == "1.0"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_wrong_method_is_405_in_error_shape(owner_client):
    response = owner_client.post("/api/v1/me", {})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_me_returns_user_and_plan(owner_client, owner):
    body = owner_client.get("/api/v1/me").json()
    assert body["id"] == str(owner.code)
    assert body["email"] == owner.email
    assert body["plan"]["slug"] == "free"
    assert body["plan"]["monthly_characters"] > 0


@pytest.mark.django_db
def test_request_id_from_proxy_is_kept_when_sane(client):
    assert client.get("/", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert client.get("/", HTTP_X_REQUEST_ID="bad id;")["X-Request-ID"] != "bad id;"


def test_every_non_400_service_code_has_its_status_in_the_one_table():
    """Services say what went wrong (a code); only config.service_errors says the HTTP status."""
    from config.service_errors import HTTP_STATUS, ServiceError, http_status

    assert http_status("voice_slots_exhausted") == 409
    assert http_status("quota_exceeded") == 402
    assert http_status("concurrent_jobs_exceeded") == 429
    assert http_status("anything_else") == 400
    assert set(HTTP_STATUS.values()) <= {402, 403, 404, 409, 413, 422, 429}
    error = ServiceError("sample_in_use", "In use.", details={"voice": "x"})
    assert (error.code, error.message, error.details, str(error)) == (
        "sample_in_use",
        "In use.",
        {"voice": "x"},
        "In use.",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/nope", "/v1/nope", "/v1/voices/x/y/z", "/v2/nope"]
)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_routes_answer_json_even_with_debug_on(client, settings, path, debug):
    """With DEBUG on, Django would answer its HTML page listing every URL pattern."""
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert b"URLconf" not in response.content
    # The compatible APIs add the vendors' fields (tests/synthesis/compat/test_routes_errors.py).
    compat = path.startswith(("/v1/", "/v2/"))
    assert ("detail" in response.json()) is compat


@pytest.mark.django_db
def test_html_pages_keep_html_errors_and_slash_redirects(client, settings):
    settings.DEBUG = True
    assert client.get("/api/docs").status_code == 301  # APPEND_SLASH still runs first
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_a_plain_django_405_under_the_api_gets_the_error_shape(rf):
    from django.http import HttpResponseNotAllowed

    from config.middleware import ApiErrorShapeMiddleware

    middleware = ApiErrorShapeMiddleware(lambda request: HttpResponseNotAllowed(["GET", "HEAD"]))
    response = middleware(rf.delete("/v1/anything"))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    body = json.loads(response.content)
    assert body["error"]["code"] == "method_not_allowed"
    assert body["error"]["details"]["allowed"] == ["GET", "HEAD"]
    assert body["detail"]["status"] == "method_not_allowed"  # ElevenLabs' shape too on /v1/
    page = ApiErrorShapeMiddleware(lambda request: HttpResponseNotAllowed(["GET"]))(
        rf.delete("/voices/")
    )
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_schema_declares_every_way_to_authenticate(client):
    spec = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == (
        "header",
        "Authorization",
    )
    assert (schemes["xiApiKey"]["in"], schemes["xiApiKey"]["name"]) == ("header", "xi-api-key")
    assert schemes["cookieAuth"]["in"] == "cookie"
    # Alternatives (any one), not a combination that would need all four at once.
    security = spec["paths"]["/api/v1/me"]["get"]["security"]
    assert {name for option in security for name in option} == set(schemes)
    assert all(len(option) == 1 for option in security)
