"""A debtor with something in every kind of record erasure touches, and a raw scan of
every table, shared by the erasure, command and fulfilment tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

from django.db import connection

from accounts.models import Client, User, Workspace
from accounts.roles import Role
from accounts.services import membership_add
from communications.log import communication_log
from consent.models import ConsentAction, ConsentSource, Purpose
from consent.services import consent_record
from debtors.models import ContactKind, Debt, Debtor, DebtorContact, Document, LedgerEntry
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.disputes import dispute_open, dispute_resolve
from debtors.services.ledger import adjustment_post, payment_record
from debtors.services.records import document_upload, note_add
from kernel.context import request_info
from kernel.crypto.blind_index import blind_index
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from privacy_requests.models import PrivacyRequest
from privacy_requests.services import privacy_request_create
from tests.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"quackenbush-id-card-scan-7f3a9" * 20


@dataclass
class Person:
    workspace: Workspace
    debtor: Debtor
    debts: list[Debt]
    request: PrivacyRequest | None
    values: dict[str, str]  # what must not survive, by name
    digests: list[str]  # their blind indexes
    document_bytes: bytes
    client_member_email: str
    extra: dict[str, Any] = field(default_factory=dict)


VALUES = {
    "full_name": "Zephyrine Quackenbush",
    "email": "zephyrine.quackenbush@example.org",
    "phone": "+919876543210",
    "address": "12 Lotus Lane, Koregaon Park, Pune 411001",
    "date_of_birth": "1981-07-19",
    "national_id": "ZQ55017788",
    "external_ref": "CRM-ZQ-004242",
    "second_email": "zq.backup@example.net",
    "note": "Zephyrine said her late husband's pension arrives on the 5th; call after 6pm.",
    "message": "Dear Sir, I am Zephyrine and I cannot pay until my surgery is over.",
    "dispute_details": "I never signed this loan; my signature was forged at the branch.",
}


def build_person(
    workspace: Workspace,
    *,
    with_request: bool = True,
    legal_hold: bool = False,
    open_dispute: bool = False,
    suffix: str = "",
) -> Person:
    """Inside ``workspace_context(workspace)``: a debtor with two debts (one client),
    notes, a document, messages, a resolved dispute, consent records, payments, a
    payment link and further contacts; optionally a legal hold or an open dispute on
    the second debt, and an erasure request relayed by the client."""
    values = dict(VALUES)
    if suffix:  # another person: no value of one is part of a value of the other
        for a, b in (("Zephyrine", "Ottoline"), ("Quackenbush", "Fennimore"), ("ZQ", "OF"), ("CRM-", "ERP-")):
            values = {k: v.replace(a, b).replace(a.lower(), b.lower()) for k, v in values.items()}
        values.update(phone="+919812300077", date_of_birth="1990-02-03")
    client = Client.objects.for_workspace(workspace).order_by("created_at").first()
    assert client is not None
    debtor = debtor_create(
        workspace=workspace,
        data=DebtorInput(
            full_name=values["full_name"],
            email=values["email"],
            phone=values["phone"],
            address=values["address"],
            date_of_birth=date.fromisoformat(values["date_of_birth"]),
            national_id=values["national_id"],
            external_ref=values["external_ref"],
            preferred_language="hi",
            timezone="Asia/Kolkata",
        ),
    )
    # No service adds further contacts outside a placement import: written as it writes them.
    contact = DebtorContact(workspace=workspace, debtor=debtor, kind=ContactKind.EMAIL, value=values["second_email"])
    contact.save(force_insert=True)
    debts = []
    for n in (1, 2):
        debt = debt_create(
            workspace=workspace,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=f"ZQ-{n}{suffix}", original_amount_minor=50_000 * n, currency=workspace.currency),
        )
        debts.append(debt_change_status(debt=debt, status="active"))
    first, second = debts
    payment_record(debt=first, amount_minor=12_345, method="upi", reference="UTR778899")
    adjustment_post(debt=first, amount_minor=-1_000, memo="Goodwill discount after hardship review")
    note_add(debt=first, body=values["note"])
    document = document_upload(debt=first, upload=BytesIO(PNG), file_name="zephyrine-id.png")
    communication_log(debt=first, channel="email", direction="inbound", content=values["message"], check_rules=False)
    communication_log(debt=second, channel="call", outcome="right_party", content=values["note"], check_rules=False)
    dispute = dispute_open(debt=first, reason="not_mine", details=values["dispute_details"])
    dispute_resolve(dispute=dispute, upheld=False, resolution=f"{values['full_name']} showed no proof; verified")
    with request_info(ip="203.0.113.77", user_agent="Mozilla/5.0 (Linux; Android 14) QuackBrowser"):
        consent_record(
            workspace=workspace,
            subject_type="debtor",
            subject_id=str(debtor.pk),
            purpose=Purpose.CONTACT_SMS,
            action=ConsentAction.GRANT,
            source=ConsentSource.DEBTOR_PAGE,
        )
    payment_link_create(debt=second)
    if legal_hold:
        # The retention app places holds; until it has a service the flag is set as it will.
        Debt.objects.for_workspace(workspace).filter(pk=second.pk).update(legal_hold=True)
    if open_dispute:
        dispute_open(debt=second, reason="wrong_amount", details=values["dispute_details"] + " (second)")
    member_email = f"client-user{suffix}@sahyadri.example"
    _client_member(workspace, client, member_email)
    request = None
    if with_request:
        request = privacy_request_create(
            workspace=workspace,
            type="erasure",
            channel="api",
            debtor=debtor,
            client=client,
            requester_contact=values["email"],
            details="Please erase everything you hold about me.",
            verified_by="relayed by the client",
        )
    return Person(
        workspace=workspace,
        debtor=Debtor.objects.for_workspace(workspace).get(pk=debtor.pk),
        debts=[Debt.objects.for_workspace(workspace).get(pk=d.pk) for d in debts],
        request=request,
        values=values,
        digests=[
            blind_index(workspace.pk, "email", values["email"], "email"),
            blind_index(workspace.pk, "phone", values["phone"], "phone"),
            blind_index(workspace.pk, "national_id", values["national_id"], "identifier"),
            blind_index(workspace.pk, "debtors.debtor.full_name", values["full_name"], "text"),
            blind_index(workspace.pk, "debtors.debtorcontact.value", values["second_email"], "text"),
        ],
        document_bytes=PNG,
        client_member_email=member_email,
        extra={"document": document.pk, "dispute": dispute.pk},
    )


def _client_member(workspace: Workspace, client: Client, email: str) -> None:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password=PASSWORD)
    membership_add(workspace=workspace, user=user, role=Role.AUDITOR, client=client)


# --- Scanning the database -------------------------------------------------------------------


def table_rows() -> dict[str, list[tuple[str, ...]]]:
    """Every table's rows as text, read with a raw cursor (no model, no decryption)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608  (names from the catalogue)
            out[table] = sorted(tuple(_text(v) for v in row) for row in cursor.fetchall())
    return out


def _text(value: Any) -> str:
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value).hex() + "|" + bytes(value).decode("latin-1")
    return str(value)


def scan_for(needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for each needle found in any table's raw values (case-insensitive)."""
    rows = table_rows()
    found = []
    for table, values in rows.items():
        blob = "\n".join("\t".join(row) for row in values).casefold()
        for needle in needles:
            if needle.casefold() in blob:
                found.append((table, needle))
    return found


def files_containing(root: Path, data: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def ledger_totals(workspace: Workspace) -> tuple[dict[str, int], int, int]:
    """(sum of entries per debt, sum of entries, sum of balances) of the workspace."""
    per_debt: dict[str, int] = {}
    with workspace_context(workspace):
        for debt_id, amount in LedgerEntry.objects.for_workspace(workspace).values_list("debt_id", "amount_minor"):
            per_debt[str(debt_id)] = per_debt.get(str(debt_id), 0) + amount
        balances = sum(Debt.objects.for_workspace(workspace).values_list("balance_minor", flat=True))
    return per_debt, sum(per_debt.values()), balances


def document_rows(workspace: Workspace) -> list[Document]:
    with workspace_context(workspace):
        return list(Document.objects.for_workspace(workspace))
