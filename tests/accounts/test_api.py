"""API keys over HTTP: Bearer authentication, the error format, client scope,
per-key throttling, query counts and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey, Client
from accounts.services import api_key_create, api_key_revoke, client_create, sha256_hex
from kernel.tenancy import workspace_context
from tests.conftest import api
from tests.cross_tenant import assert_api_error


def _key(workspace, secret: str) -> ApiKey:
    with workspace_context(workspace):
        return ApiKey.objects.get(key_hash=sha256_hex(secret))


def _client(workspace, reference: str) -> Client:
    with workspace_context(workspace):
        return Client.objects.get(reference=reference)


# --- Authentication -----------------------------------------------------------------


def test_bearer_key_reaches_its_own_workspace(world):
    r = api(world.key_a).get("/api/v1/workspace/")
    assert r.status_code == 200, r.content
    assert r.json()["slug"] == "acme"
    assert r.json()["client_scope"] is None
    assert api(world.key_b).get("/api/v1/workspace/").json()["slug"] == "globex"


def test_scheme_is_case_insensitive(world):
    r = HttpClient(HTTP_AUTHORIZATION=f"bearer {world.key_a}").get("/api/v1/workspace/")
    assert r.status_code == 200, r.content
    assert r.json()["slug"] == "acme"


@pytest.mark.parametrize("header", ["Token {key}", "Basic {key}", "{key}", "Bearer", "Bearer "])
def test_wrong_scheme_is_401(world, header):
    client = HttpClient(HTTP_AUTHORIZATION=header.format(key=world.key_a))
    error = assert_api_error(client.get("/api/v1/workspace/"), 401)
    assert error["code"] == "authentication_failed"


def test_missing_key_is_401_not_authenticated(world):
    r = HttpClient().get("/api/v1/workspace/")
    error = assert_api_error(r, 401)
    assert error["code"] == "not_authenticated"
    assert r["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401(world):
    api_key_revoke(api_key=_key(world.a, world.key_a))
    error = assert_api_error(api(world.key_a).get("/api/v1/workspace/"), 401)
    assert error["code"] == "authentication_failed"
    assert "revoked" in error["message"]
    # The other workspace's key is untouched.
    assert api(world.key_b).get("/api/v1/workspace/").status_code == 200


def test_last_used_at_is_recorded(world):
    assert _key(world.a, world.key_a).last_used_at is None
    assert api(world.key_a).get("/api/v1/clients/").status_code == 200
    assert _key(world.a, world.key_a).last_used_at is not None
    assert _key(world.b, world.key_b).last_used_at is None


# --- Creating clients and the error format ---------------------------------------------


def test_create_client(world):
    body = {"name": "Konkan Telecom", "reference": "KONKAN", "commission_rate_bps": 2000}
    r = api(world.key_a).post("/api/v1/clients/", body, content_type="application/json")
    assert r.status_code == 201, r.content
    created = r.json()
    assert {k: created[k] for k in body} == body and created["id"]
    assert api(world.key_a).get(f"/api/v1/clients/{created['id']}/").json()["reference"] == "KONKAN"
    # B neither sees it in its list nor by id.
    assert "KONKAN" not in api(world.key_b).get("/api/v1/clients/").content.decode()
    assert api(world.key_b).get(f"/api/v1/clients/{created['id']}/").status_code == 404


def test_field_errors_use_the_documented_format(world):
    r = api(world.key_a).post(
        "/api/v1/clients/", {"name": "No Ref", "commission_rate_bps": 20_000}, content_type="application/json"
    )
    error = assert_api_error(r, 400)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"reference", "commission_rate_bps"}
    assert all(isinstance(m, str) for m in error["fields"]["reference"])


def test_duplicate_reference_is_400_naming_the_field(world):
    r = api(world.key_a).post(
        "/api/v1/clients/", {"name": "Again", "reference": "SAHYADRI"}, content_type="application/json"
    )
    error = assert_api_error(r, 400)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["reference"]
    assert "already exists" in error["fields"]["reference"][0]
    # References are per workspace: B may use A's.
    r = api(world.key_b).post(
        "/api/v1/clients/", {"name": "Same ref", "reference": "SAHYADRI"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content


# --- Client-scoped keys -----------------------------------------------------------------


def test_client_scoped_key_sees_only_its_client_and_cannot_create(world):
    with workspace_context(world.a):
        client_create(workspace=world.a, name="Konkan Telecom", reference="KONKAN")
        sahyadri = Client.objects.get(reference="SAHYADRI")
        scoped = api_key_create(workspace=world.a, name="Sahyadri's key", client=sahyadri).secret
    c = api(scoped)
    assert c.get("/api/v1/workspace/").json()["client_scope"] == "SAHYADRI"
    results = c.get("/api/v1/clients/").json()["results"]
    assert [row["reference"] for row in results] == ["SAHYADRI"]
    konkan = _client(world.a, "KONKAN")
    assert c.get(f"/api/v1/clients/{konkan.pk}/").status_code == 404
    r = c.post("/api/v1/clients/", {"name": "Mine", "reference": "MINE"}, content_type="application/json")
    error = assert_api_error(r, 403)
    assert error["code"] == "permission_denied"
    with workspace_context(world.a):
        assert not Client.objects.filter(reference="MINE").exists()
    # The workspace key still sees both.
    refs = {row["reference"] for row in api(world.key_a).get("/api/v1/clients/").json()["results"]}
    assert refs == {"SAHYADRI", "KONKAN"}


# --- Throttling ----------------------------------------------------------------------


@pytest.fixture
def three_per_minute(monkeypatch):
    """DRF reads the rates into SimpleRateThrottle.THROTTLE_RATES when it is imported,
    so overriding settings is not enough: patch the class attribute."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    cache.clear()
    yield
    cache.clear()


def test_each_key_has_its_own_rate_limit(world, three_per_minute):
    a, b = api(world.key_a), api(world.key_b)
    assert [a.get("/api/v1/workspace/").status_code for _ in range(3)] == [200, 200, 200]
    r = a.get("/api/v1/workspace/")
    error = assert_api_error(r, 429)
    assert error["code"] == "throttled"
    assert int(r["Retry-After"]) > 0
    # B's budget is its own.
    assert b.get("/api/v1/workspace/").status_code == 200
    # So is another key of the same workspace.
    with workspace_context(world.a):
        other = api_key_create(workspace=world.a, name="second").secret
    assert api(other).get("/api/v1/workspace/").status_code == 200


# --- Query counts -------------------------------------------------------------------


def _list_queries(secret: str) -> int:
    c = api(secret)
    c.get("/api/v1/clients/")  # the first call of a minute records last_used_at
    with CaptureQueriesContext(connection) as ctx:
        r = c.get("/api/v1/clients/")
    assert r.status_code == 200
    return len(ctx.captured_queries)


def test_client_list_query_count_does_not_grow_with_rows(world):
    with_one = _list_queries(world.key_a)
    with workspace_context(world.a):
        for i in range(29):
            client_create(workspace=world.a, name=f"Creditor {i}", reference=f"C{i:02d}")
    with_thirty = _list_queries(world.key_a)
    assert with_thirty == with_one
    assert len(api(world.key_a).get("/api/v1/clients/").json()["results"]) == 30


# --- OpenAPI ------------------------------------------------------------------------


def test_schema_is_served_and_documents_the_clients_endpoint(db):
    r = HttpClient().get("/api/schema/", {"format": "json"})
    assert r.status_code == 200, r.content[:300]
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/clients/" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/clients/"])
    assert "BearerApiKey" in schema["components"]["securitySchemes"]


def test_schema_yaml_by_default(db):
    r = HttpClient().get("/api/schema/")
    assert r.status_code == 200
    assert "/api/v1/clients/:" in r.content.decode()
