"""The rights-request API (/api/v1/privacy-requests/): what a relayed request
looks like (the contract), field errors, listing and filtering, client scope, the
other workspace — and that the schema documents exactly this."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_create, client_create
from audit import actions
from audit.models import AuditEvent
from kernel.tenancy import workspace_context
from privacy_requests.models import PrivacyRequest, PrivacyRequestEvent, RequestStatus, RequestType
from privacy_requests.services import privacy_request_create, privacy_request_transition
from tests.conftest import api
from tests.cross_tenant import assert_api_error
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=IST)
JSON = "application/json"
URL = "/api/v1/privacy-requests/"
CONTRACT = {
    "id",
    "reference",
    "type",
    "status",
    "channel",
    "debtor",
    "received_at",
    "due_at",
    "extended",
    "days_left",
    "closed_at",
}


@pytest.fixture
def acme(world, monkeypatch):
    """Workspace A: a Sahyadri debt and a Konkan debt, a Sahyadri-scoped key; B: a debt."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    with workspace_context(world.a):
        konkan = client_create(workspace=world.a, name="Konkan Telecom", reference="KONKAN")
        mine = make_debt(world.a, client_ref="SAHYADRI")
        theirs = make_debt(world.a, client_ref=konkan.reference)
        scoped = api_key_create(workspace=world.a, name="Sahyadri", client=mine.client)
    with workspace_context(world.b):
        foreign = make_debt(world.b)
    return SimpleNamespace(
        mine=mine, theirs=theirs, foreign=foreign, sahyadri_key=scoped.secret, sahyadri_key_obj=scoped.api_key
    )


def _post(secret, body):
    return api(secret).post(URL, body, content_type=JSON)


def _requests(ws):
    with workspace_context(ws):
        return list(PrivacyRequest.objects.all())


# --- POST ---------------------------------------------------------------------------------------


def test_a_relayed_request_is_201_verified_with_its_clock_at_receipt(world, acme):
    r = _post(
        world.key_a,
        {
            "type": "erasure",
            "debtor": str(acme.mine.debtor_id),
            "received_at": "2026-11-20T09:30:00+05:30",
            "details": "Customer asked by email to delete their data.",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == CONTRACT
    (pr,) = _requests(world.a)
    assert body["id"] == str(pr.pk) and body["reference"] == pr.reference and pr.reference.startswith("PR-")
    assert body["type"] == "erasure" and body["status"] == "verified" and body["channel"] == "api"
    assert body["debtor"] == str(acme.mine.debtor_id)
    assert body["received_at"] == "2026-11-20T04:00:00Z"
    # India: 30 days from the day it was received, the end of that day in the workspace's zone.
    assert body["due_at"] == "2026-12-20T18:29:59Z"
    assert body["days_left"] == 27 and body["extended"] is False and body["closed_at"] is None
    assert pr.clock_started_at == pr.received_at and pr.verified_at == pr.received_at
    assert pr.verification_method == "relayed through API key A integration"
    assert pr.details == "Customer asked by email to delete their data." and pr.client_id is None
    with workspace_context(world.a):
        audit = AuditEvent.objects.get(action=actions.PRIVACY_REQUEST_RECEIVED)
        event = PrivacyRequestEvent.objects.get(request=pr)
    assert audit.actor_api_key_id and audit.metadata == {"type": "erasure", "channel": "api", "verified": True}
    assert event.actor_label == "API key A integration"
    # The details are never returned.
    assert "delete their data" not in r.content.decode()


def test_received_at_defaults_to_now(world, acme):
    r = _post(world.key_a, {"type": "access", "debtor": str(acme.mine.debtor_id)})
    assert r.status_code == 201
    body = r.json()
    assert body["received_at"] == "2026-11-23T05:30:00Z" and body["days_left"] == 30


@pytest.mark.parametrize("kind", RequestType.values)
def test_every_type_is_accepted(world, acme, kind):
    r = _post(world.key_a, {"type": kind, "debtor": str(acme.mine.debtor_id)})
    assert r.status_code == 201 and r.json()["type"] == kind


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"type": "delete_me"}, "type", '"delete_me" is not a request type; use one of: access, portability'),
        ({"type": None}, "type", "This field may not be null."),
        ({"received_at": "2026-11-25T10:00:00+05:30"}, "received_at", "A request cannot be received in the future."),
        ({"received_at": "yesterday"}, "received_at", "Datetime has wrong format."),
        ({"debtor": str(uuid.uuid4())}, "debtor", "No such debtor."),
        ({"debtor": "not-a-uuid"}, "debtor", "Must be a valid UUID."),
        ({"details": "x" * 10_001}, "details", "Ensure this field has no more than 10000 characters."),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_why(world, acme, body, field, message):
    good = {"type": "access", "debtor": str(acme.mine.debtor_id)}
    error = assert_api_error(_post(world.key_a, {**good, **body}), 400)
    assert error["code"] == "invalid" and set(error["fields"]) == {field}
    assert message in error["fields"][field][0], error
    assert _requests(world.a) == []


def test_missing_fields_are_named(world, acme):
    error = assert_api_error(_post(world.key_a, {}), 400)
    assert error["fields"] == {"type": ["This field is required."], "debtor": ["This field is required."]}


def test_another_workspaces_debtor_is_no_such_debtor(world, acme):
    error = assert_api_error(_post(world.key_a, {"type": "access", "debtor": str(acme.foreign.debtor_id)}), 400)
    assert error["fields"] == {"debtor": ["No such debtor."]}
    assert _requests(world.a) == [] and _requests(world.b) == []


# --- Client-scoped keys -------------------------------------------------------------------------


def test_a_client_key_relays_only_for_its_own_debtors_verified_by_the_client(world, acme):
    # Another client's debtor answers exactly like a missing one.
    error = assert_api_error(_post(acme.sahyadri_key, {"type": "access", "debtor": str(acme.theirs.debtor_id)}), 400)
    assert error["fields"] == {"debtor": ["No such debtor."]}
    r = _post(acme.sahyadri_key, {"type": "objection", "debtor": str(acme.mine.debtor_id)})
    assert r.status_code == 201
    (pr,) = _requests(world.a)
    assert pr.verification_method == "relayed by client SAHYADRI" and pr.client_id == acme.mine.client_id


def test_a_client_key_sees_only_requests_about_its_clients_debtors(world, acme):
    with workspace_context(world.a):
        ours = privacy_request_create(
            workspace=world.a, type="access", channel="phone", debtor=acme.mine.debtor, verified_by="DOB"
        )
        theirs = privacy_request_create(
            workspace=world.a, type="access", channel="phone", debtor=acme.theirs.debtor, verified_by="DOB"
        )
        unmatched = privacy_request_create(workspace=world.a, type="access", channel="web")
    scoped = api(acme.sahyadri_key)
    listed = [row["id"] for row in scoped.get(URL).json()["results"]]
    assert listed == [str(ours.pk)]
    assert scoped.get(f"{URL}{ours.pk}/").status_code == 200
    assert_api_error(scoped.get(f"{URL}{theirs.pk}/"), 404)
    assert_api_error(scoped.get(f"{URL}{unmatched.pk}/"), 404)
    # The whole-workspace key sees all three.
    assert {row["id"] for row in api(world.key_a).get(URL).json()["results"]} == {
        str(ours.pk),
        str(theirs.pk),
        str(unmatched.pk),
    }


# --- GET ----------------------------------------------------------------------------------------


def test_list_is_newest_first_cursor_paginated_and_filtered(world, acme):
    with workspace_context(world.a):
        made = [
            privacy_request_create(
                workspace=world.a, type=kind, channel="api", debtor=acme.mine.debtor, verified_by="client"
            )
            for kind in ("access", "erasure", "access")
        ]
        privacy_request_transition(request=made[0], to=RequestStatus.REFUSED, reason="Manifestly unfounded.")
    a = api(world.key_a)
    page = a.get(URL, {"page_size": 2}).json()
    assert set(page) == {"next", "previous", "results"}
    assert [row["id"] for row in page["results"]] == [str(made[2].pk), str(made[1].pk)]
    rest = a.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == [str(made[0].pk)] and rest["next"] is None
    refused = rest["results"][0]
    assert (
        refused["status"] == "refused"
        and refused["closed_at"] == "2026-11-23T05:30:00Z"
        and refused["days_left"] is None
    )
    assert [row["id"] for row in a.get(URL, {"type": "access"}).json()["results"]] == [str(made[2].pk), str(made[0].pk)]
    assert [row["id"] for row in a.get(URL, {"status": "refused"}).json()["results"]] == [str(made[0].pk)]
    error = assert_api_error(a.get(URL, {"type": "everything"}), 400)
    assert set(error["fields"]) == {"type"}


def test_detail_answers_the_contract(world, acme):
    with workspace_context(world.a):
        pr = privacy_request_create(
            workspace=world.a, type="rectification", channel="api", debtor=acme.mine.debtor, verified_by="client"
        )
    r = api(world.key_a).get(f"{URL}{pr.pk}/")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == CONTRACT and body["id"] == str(pr.pk) and body["type"] == "rectification"
    assert body["due_at"] == "2026-12-23T18:29:59Z" and body["days_left"] == 30


def test_another_workspace_gets_404(world, acme):
    with workspace_context(world.a):
        pr = privacy_request_create(
            workspace=world.a, type="access", channel="api", debtor=acme.mine.debtor, verified_by="client"
        )
    assert_api_error(api(world.key_b).get(f"{URL}{pr.pk}/"), 404)
    assert_api_error(api(world.key_b).get(f"{URL}{uuid.uuid4()}/"), 404)
    assert api(world.key_b).get(URL).json()["results"] == []


def test_list_query_count_does_not_grow_with_rows(world, acme):
    a = api(world.key_a)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert a.get(URL).status_code == 200
        return len(ctx.captured_queries)

    with workspace_context(world.a):
        privacy_request_create(
            workspace=world.a, type="access", channel="api", debtor=acme.mine.debtor, verified_by="c"
        )
    queries()  # the first request of a key warms its caches
    few = queries()
    with workspace_context(world.a):
        for _ in range(10):
            privacy_request_create(
                workspace=world.a, type="erasure", channel="api", debtor=acme.theirs.debtor, verified_by="c"
            )
    assert queries() == few


# --- The schema -----------------------------------------------------------------------------------


def test_the_schema_describes_the_endpoints_as_they_behave(world):
    schema = api(world.key_a).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/privacy-requests/"])
    assert "get" in paths["/api/v1/privacy-requests/{id}/"]
    post = paths["/api/v1/privacy-requests/"]["post"]
    assert set(post["responses"]) == {"201", "400"}
    assert "400" in paths["/api/v1/privacy-requests/"]["get"]["responses"]
    assert "404" in paths["/api/v1/privacy-requests/{id}/"]["get"]["responses"]
    components = schema["components"]["schemas"]
    request_body = components["PrivacyRequestInputRequest"]
    assert set(request_body["required"]) == {"type", "debtor"}
    assert set(request_body["properties"]) == {"type", "debtor", "received_at", "details"}
    output = components["PrivacyRequestOutput"]
    assert set(output["properties"]) == CONTRACT
    assert output["properties"]["due_at"]["nullable"] is True
    assert output["properties"]["days_left"]["nullable"] is True
    type_enum = {c["$ref"].rsplit("/", 1)[1] for c in [request_body["properties"]["type"]] if "$ref" in c}
    for name in type_enum:
        assert set(components[name]["enum"]) == set(RequestType.values)
    assert components["PaginatedPrivacyRequestOutputList"]
    text = str(post)
    assert "relayed erasure request" in text and "No such debtor." in text
    errors = components["PrivacyApiError"]["properties"]["error"]
    assert errors
