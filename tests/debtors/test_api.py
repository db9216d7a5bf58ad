"""The REST contract for debtors and debts, over HTTP with a Bearer key."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Client
from accounts.services import api_key_create
from audit.models import AuditEvent
from debtors.models import Debt
from kernel.tenancy import workspace_context
from tests.conftest import api


def _debtor(client, **extra):
    body = {
        "full_name": "Asha Rao",
        "email": "asha@example.com",
        "phone": "+91 98123 45678",
        "external_ref": "CUST-1",
        **extra,
    }
    r = client.post("/api/v1/debtors/", body, content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()


def test_minimal_contract_debtor_then_debt(world):
    c = api(world.key_a)
    debtor = _debtor(c)
    assert debtor["id"] and debtor["phone"] == "+919812345678"
    r = c.post(
        "/api/v1/debts/",
        {
            "debtor": debtor["id"],
            "reference": "LN-1",
            "original_amount": "1250.00",
            "currency": "INR",
            "due_date": "2026-12-01",
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["balance"] == "1250.00" and body["status"] == "new" and body["id"]
    ledger = c.get(f"/api/v1/debts/{body['id']}/ledger/").json()
    assert ledger["balance"] == "1250.00" and [e["kind"] for e in ledger["entries"]] == ["charge"]


def test_payment_lowers_the_balance_and_shows_in_ledger_and_timeline(world):
    c = api(world.key_a)
    debtor = _debtor(c)
    debt = c.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "LN-2", "original_amount": "1250.00", "currency": "INR"},
        content_type="application/json",
    ).json()
    r = c.post(
        f"/api/v1/debts/{debt['id']}/payments/",
        {"amount": "250.00", "paid_at": "2026-11-20", "method": "upi", "reference": "UTR9"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["amount"] == "-250.00"
    assert c.get(f"/api/v1/debts/{debt['id']}/").json()["balance"] == "1000.00"
    kinds = [e["kind"] for e in c.get(f"/api/v1/debts/{debt['id']}/timeline/").json()]
    assert "ledger.payment" in kinds


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "250.001"}, "amount"),
        ({"amount": 250.5}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({}, "amount"),
    ],
)
def test_bad_payment_names_the_field_and_changes_nothing(world, body, field):
    c = api(world.key_a)
    debtor = _debtor(c)
    debt = c.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "LN-3", "original_amount": "100.00", "currency": "INR"},
        content_type="application/json",
    ).json()
    r = c.post(f"/api/v1/debts/{debt['id']}/payments/", body, content_type="application/json")
    assert r.status_code == 400
    err = r.json()["error"]
    assert field in err["fields"]
    assert c.get(f"/api/v1/debts/{debt['id']}/").json()["balance"] == "100.00"


def test_debt_input_errors_are_per_field(world):
    c = api(world.key_a)
    r = c.post(
        "/api/v1/debts/",
        {
            "debtor": "00000000-0000-0000-0000-000000000000",
            "reference": "",
            "original_amount": "1.234",
            "currency": "INR",
        },
        content_type="application/json",
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert {"reference", "original_amount"} <= set(fields)


def test_other_workspace_gets_404_for_every_debt_route(world):
    a, b = api(world.key_a), api(world.key_b)
    debtor = _debtor(a)
    debt = a.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "LN-4", "original_amount": "10.00", "currency": "INR"},
        content_type="application/json",
    ).json()
    note = a.post(f"/api/v1/debts/{debt['id']}/notes/", {"body": "private"}, content_type="application/json").json()
    assert b.get(f"/api/v1/debtors/{debtor['id']}/").status_code == 404
    for suffix in (
        "",
        "ledger/",
        "timeline/",
        "notes/",
        "documents/",
        "payment-plans/",
        "promises/",
        "disputes/",
        "communications/",
    ):
        assert b.get(f"/api/v1/debts/{debt['id']}/{suffix}").status_code == 404, suffix
    assert (
        b.post(f"/api/v1/debts/{debt['id']}/payments/", {"amount": "1.00"}, content_type="application/json").status_code
        == 404
    )
    assert (
        b.post(f"/api/v1/debts/{debt['id']}/notes/", {"body": "x"}, content_type="application/json").status_code == 404
    )
    # B cannot attach A's debtor to a debt of its own either.
    r = b.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "X", "original_amount": "1.00", "currency": "USD"},
        content_type="application/json",
    )
    assert r.status_code == 400 and "debtor" in r.json()["error"]["fields"]
    assert note["body"] == "private"


def test_client_scoped_key_sees_and_creates_only_its_clients_debts(world):
    a = api(world.key_a)
    debtor = _debtor(a)
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        scoped = api_key_create(workspace=world.a, name="bank", client=sahyadri).secret
    a.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "DIRECT-1", "original_amount": "10.00", "currency": "INR"},
        content_type="application/json",
    )
    s = api(scoped)
    r = s.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "BANK-1", "original_amount": "20.00", "currency": "INR"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["client_ref"] == "SAHYADRI"
    refs = [d["reference"] for d in s.get("/api/v1/debts/").json()["results"]]
    assert refs == ["BANK-1"]
    with workspace_context(world.a):
        direct = Debt.objects.get(reference="DIRECT-1")
    assert s.get(f"/api/v1/debts/{direct.pk}/").status_code == 404


def test_exact_search_by_email_phone_and_reference(world):
    c = api(world.key_a)
    debtor = _debtor(c, email="Ravi@Example.com", phone="+91 90000 11111", national_id="ABCDE1234F")
    c.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "REF-77", "original_amount": "10.00", "currency": "INR"},
        content_type="application/json",
    )
    for q in ("ravi@example.com", "+919000011111", "abcde1234f", "REF-77"):
        results = c.get("/api/v1/debts/", {"search": q}).json()["results"]
        assert [d["reference"] for d in results] == ["REF-77"], q
    assert c.get("/api/v1/debts/", {"search": "nobody@example.com"}).json()["results"] == []


def test_debt_list_query_count_is_constant(world):
    c = api(world.key_a)
    debtor = _debtor(c)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get("/api/v1/debts/", {"page_size": 100}).status_code == 200
        return len(ctx.captured_queries)

    c.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "Q-0", "original_amount": "1.00", "currency": "INR"},
        content_type="application/json",
    )
    few = count_queries()
    for i in range(1, 25):
        c.post(
            "/api/v1/debts/",
            {"debtor": debtor["id"], "reference": f"Q-{i}", "original_amount": "1.00", "currency": "INR"},
            content_type="application/json",
        )
    assert count_queries() == few


def test_reading_a_debtor_is_audited_without_values(world):
    c = api(world.key_a)
    debtor = _debtor(c)
    assert c.get(f"/api/v1/debtors/{debtor['id']}/").status_code == 200
    with workspace_context(world.a):
        event = AuditEvent.objects.filter(action="personal_data.read", object_id=debtor["id"]).get()
    assert "asha@example.com" not in str(event.content())
    assert "email" in event.metadata["fields"]


def test_timeline_amounts_are_decimal_strings_and_404s_say_not_found(world):
    c = api(world.key_a)
    debtor = _debtor(c)
    debt = c.post(
        "/api/v1/debts/",
        {"debtor": debtor["id"], "reference": "TL-1", "original_amount": "1250.50", "currency": "INR"},
        content_type="application/json",
    ).json()
    events = c.get(f"/api/v1/debts/{debt['id']}/timeline/").json()
    assert "1250.50" in [e["amount"] for e in events]
    r = api(world.key_b).get(f"/api/v1/debts/{debt['id']}/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_each_sub_resource_is_described_as_itself_in_the_schema(db):
    """Every debt sub-resource documents its own list and create, not the last
    one registered (the schema must say exactly what the server answers)."""
    from django.test import Client as HttpClient

    schema = HttpClient().get("/api/schema/", {"format": "json"}).json()
    expected = {
        "payment-plans": "payment plans",
        "promises": "promises",
        "settlement-offers": "settlement offers",
        "disputes": "disputes",
        "notes": "notes",
        "documents": "documents",
        "communications": "communications",
    }
    for path_noun, noun in expected.items():
        operations = schema["paths"][f"/api/v1/debts/{{id}}/{path_noun}/"]
        assert operations["get"]["summary"] == f"List the debt's {noun}"
        listed = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        created = operations["post"]["responses"]["201"]["content"]["application/json"]["schema"]
        assert listed["items"]["$ref"] == created["$ref"], path_noun
    refs = {
        schema["paths"][f"/api/v1/debts/{{id}}/{p}/"]["post"]["responses"]["201"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        for p in expected
    }
    assert len(refs) == len(expected)  # seven different output shapes
