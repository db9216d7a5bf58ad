"""The access copy holds the debt itself — what the person owes, paid and agreed to
pay (GDPR Art. 15) — because the registry declares those financial facts; and an
erasure keeps them with the books."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import Client
from debtors.models import Debt, Debtor, Installment, LedgerEntry, PaymentPlan, PromiseToPay, SettlementOffer
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.ledger import payment_record
from debtors.services.offers import offer_create
from debtors.services.plans import plan_create
from debtors.services.promises import promise_create
from kernel.crypto.blobs import blob_decrypt
from kernel.privacy.registry import Erasure, declaration_for
from kernel.tenancy import workspace_context
from privacy_requests import erasure, exports
from privacy_requests.export_archive import file_purpose
from privacy_requests.models import PrivacyRequest
from privacy_requests.services import privacy_request_create
from tests.conftest import World
from tests.privacy_requests.erasure_world import ledger_totals

FINANCIAL_MODELS = (Debt, LedgerEntry, PromiseToPay, PaymentPlan, Installment, SettlementOffer)


@dataclass
class Owed:
    debtor: Debtor
    debt: Debt
    payment: LedgerEntry
    promise: PromiseToPay
    plan: PaymentPlan
    offer: SettlementOffer


@pytest.fixture
def owed(world: World, private_storage: Any) -> Owed:
    a = world.a
    today = timezone.localdate()
    with workspace_context(a):
        debtor = debtor_create(workspace=a, data=DebtorInput(full_name="Farida Quraishi", email="farida@example.com"))
        client = Client.objects.for_workspace(a).order_by("created_at").first()
        assert client is not None
        debt = debt_create(
            workspace=a,
            client=client,
            debtor=debtor,
            data=DebtInput(
                reference="LOAN-FQ-7731",
                original_amount_minor=4_321_000,
                currency=a.currency,
                opened_on=today - timedelta(days=400),
                charge_off_date=today - timedelta(days=100),
            ),
        )
        debt = debt_change_status(debt=debt, status="active")
        payment, _ = payment_record(debt=debt, amount_minor=123_400, method="upi", reference="UTR-FQ-5521")
        offer = offer_create(debt=debt, amount_minor=3_000_000, expires_at=timezone.now() + timedelta(days=21))
        promise = promise_create(debt=debt, amount_minor=250_500, due_on=today + timedelta(days=9))
        plan = plan_create(
            debt=debt, total_minor=1_500_300, count=3, frequency="monthly", first_due=today + timedelta(days=40)
        )
        return Owed(
            debtor,
            Debt.objects.for_workspace(a).get(pk=debt.pk),
            payment,
            PromiseToPay.objects.for_workspace(a).get(pk=promise.pk),
            plan,
            SettlementOffer.objects.for_workspace(a).get(pk=offer.pk),
        )


def _copy(world: World, debtor: Debtor) -> dict[str, Any]:
    """Build the copy for a verified access request; the stored ZIP's data files, decrypted."""
    with workspace_context(world.a):
        request = privacy_request_create(
            workspace=world.a,
            type="access",
            channel="phone",
            debtor=debtor,
            requester_name="Farida Quraishi",
            verified_by="agent checked date of birth",
        )
        file = exports.export_build(request=request)
        assert PrivacyRequest.objects.for_workspace(world.a).get(pk=request.pk).type == "access"
        with default_storage.open(file.storage_name, "rb") as fh:
            content = blob_decrypt(fh.read(), workspace_id=world.a.pk, purpose=file_purpose(file))
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            name: json.loads(archive.read(name)) if name.endswith(".json") else archive.read(name).decode()
            for name in archive.namelist()
        }


def _financial(files: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return [record["financial"] for record in files[f"data/{label}.json"]]


def test_the_financial_facts_are_declared_and_kept_by_erasure() -> None:
    for model in FINANCIAL_MODELS:
        declaration = declaration_for(model)
        assert declaration is not None and declaration.subject_type == "debtor", model
        for name, pd in declaration.fields.items():
            assert pd.category == "financial", (model, name)
            assert pd.erasure == Erasure.KEEP_UNTIL and "erasure keeps the books" in pd.keep_law, (model, name)


def test_the_copy_holds_the_debt_payments_promises_and_plans(world: World, owed: Owed) -> None:
    files = _copy(world, owed.debtor)
    today = timezone.localdate()

    (debt,) = _financial(files, "debtors.debt")
    assert debt["reference"] == "LOAN-FQ-7731"
    assert debt["original_amount_minor"] == 4_321_000
    assert debt["balance_minor"] == owed.debt.balance_minor == 4_321_000 - 123_400
    assert debt["currency"] == world.a.currency
    assert debt["status"] == owed.debt.status == "payment_plan"
    assert debt["opened_on"] == (today - timedelta(days=400)).isoformat()
    assert debt["charge_off_date"] == (today - timedelta(days=100)).isoformat()
    assert debt["created_at"] == owed.debt.created_at.isoformat()

    entries = _financial(files, "debtors.ledgerentry")
    assert {(e["kind"], e["amount_minor"]) for e in entries} == {("charge", 4_321_000), ("payment", -123_400)}
    payment = next(e for e in entries if e["kind"] == "payment")
    assert payment["reference"] == "UTR-FQ-5521" and payment["method"] == "upi"
    assert payment["effective_on"] == owed.payment.effective_on.isoformat()
    assert payment["posted_at"] == owed.payment.posted_at.isoformat()

    (promise,) = _financial(files, "debtors.promisetopay")
    assert promise["amount_minor"] == 250_500
    assert promise["due_on"] == (today + timedelta(days=9)).isoformat()
    assert promise["status"] == owed.promise.status

    (plan,) = _financial(files, "debtors.paymentplan")
    assert (plan["total_minor"], plan["frequency"], plan["status"]) == (1_500_300, "monthly", "active")
    installments = sorted(_financial(files, "debtors.installment"), key=lambda i: i["seq"])
    expected = [
        (i.due_on.isoformat(), i.amount_minor)
        for i in Installment.objects.for_workspace(world.a).filter(plan=owed.plan).order_by("seq")
    ]
    assert [(i["due_on"], i["amount_minor"]) for i in installments] == expected
    assert [i["amount_minor"] for i in installments] == [500_100, 500_100, 500_100]
    assert installments[0]["due_on"] == (today + timedelta(days=40)).isoformat()

    (offer,) = _financial(files, "debtors.settlementoffer")
    assert offer["amount_minor"] == 3_000_000 and offer["expires_at"] == owed.offer.expires_at.isoformat()

    # The spreadsheet version and the summary say so too.
    assert "LOAN-FQ-7731" in files["csv/debtors.debt.csv"] and "250500" in files["csv/debtors.promisetopay.csv"]
    assert "Financial" in files["summary.html"]


def test_the_erasure_of_that_person_keeps_every_amount(
    world: World, owed: Owed, django_capture_on_commit_callbacks: Any
) -> None:
    a = world.a
    with workspace_context(a):
        before_entries = sorted(
            LedgerEntry.objects.for_workspace(a).filter(debt=owed.debt).values_list("pk", "kind", "amount_minor")
        )
        before = {
            model: sorted(map(str, model.objects.for_workspace(a).values_list(*_amounts(model))))
            for model in FINANCIAL_MODELS
        }
    totals = ledger_totals(a)
    with workspace_context(a):
        request = privacy_request_create(
            workspace=a,
            type="erasure",
            channel="phone",
            debtor=owed.debtor,
            verified_by="agent checked date of birth",
        )
        plan = erasure.erasure_plan(workspace=a, debtor=owed.debtor, request=request, actor=world.alice)
        assert plan.plan["unhandled"] == []
        kept = {(e["model"], e["field"]) for e in plan.plan["entries"] if e["action"] == "keep"}
        for model in FINANCIAL_MODELS:
            label = model._meta.label_lower
            declaration = declaration_for(model)
            assert declaration is not None
            assert {(label, name) for name in declaration.fields} <= kept, label
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erasure_execute(plan=plan)

    assert ledger_totals(a) == totals
    with workspace_context(a):
        assert (
            sorted(
                LedgerEntry.objects.for_workspace(a).filter(debt=owed.debt).values_list("pk", "kind", "amount_minor")
            )
            == before_entries
        )
        for model in FINANCIAL_MODELS:
            after = sorted(map(str, model.objects.for_workspace(a).values_list(*_amounts(model))))
            assert after == before[model], model
        debtor = Debtor.objects.for_workspace(a).get(pk=owed.debtor.pk)
        assert debtor.full_name.startswith("Erased person")
    # The books are still in a copy made after the erasure (the person may ask again).
    files = _copy(world, owed.debtor)
    assert _financial(files, "debtors.debt")[0]["original_amount_minor"] == 4_321_000
    assert {e["amount_minor"] for e in _financial(files, "debtors.ledgerentry")} == {4_321_000, -123_400}


def _amounts(model: type[Any]) -> tuple[str, ...]:
    declaration = declaration_for(model)
    assert declaration is not None
    return ("pk", *sorted(declaration.fields))
