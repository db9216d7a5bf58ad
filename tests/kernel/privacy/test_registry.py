"""Privacy as code: a personal-data field nobody declared fails the system check;
the declarations answer "what do we hold about this person" and feed the record
of processing page."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps
from django.utils.html import escape

from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel
from kernel.privacy import registry
from kernel.privacy.checks import check_personal_data_declared
from kernel.privacy.registry import (
    COLLECTION_RECORDS,
    PD,
    Basis,
    Category,
    Erasure,
    personal_data,
    rows_for_subject,
)
from kernel.tenancy import workspace_context
from tests.conftest import login

EMAIL_PD = PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE)


@pytest.fixture(autouse=True)
def _scratch_registry(monkeypatch):
    """Declarations made by throwaway models must not outlive the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_NOT_PERSONAL", {k: dict(v) for k, v in registry._NOT_PERSONAL.items()})


def _errors(isolated, model_name: str) -> list:
    label = f"debtors.{model_name}"
    return [
        e for e in check_personal_data_declared(app_configs=isolated.get_app_configs()) if e.obj._meta.label == label
    ]


def test_an_undeclared_personal_looking_field_fails_the_check():
    with isolate_apps("debtors") as isolated:

        class UndeclaredContact(TenantModel):
            email = models.EmailField()
            kind = models.CharField(max_length=8)

            class Meta:
                app_label = "debtors"

        errors = _errors(isolated, "UndeclaredContact")
    assert [e.id for e in errors] == ["collectpro.E001"]
    assert "debtors.UndeclaredContact.email" in errors[0].msg
    assert "personal_data" in errors[0].hint


def test_an_undeclared_encrypted_field_fails_even_with_an_innocent_name():
    with isolate_apps("debtors") as isolated:

        class SecretThing(TenantModel):
            remarks = EncryptedField(subject="workspace", subject_type="workspace")

            class Meta:
                app_label = "debtors"

        errors = _errors(isolated, "SecretThing")
    assert [e.id for e in errors] == ["collectpro.E001"]
    assert "SecretThing.remarks" in errors[0].msg


def test_the_same_model_passes_once_declared():
    with isolate_apps("debtors") as isolated:

        @personal_data(subject_type="debtor", subject="self", purpose="testing", fields={"email": EMAIL_PD})
        class DeclaredContact(TenantModel):
            email = models.EmailField()
            kind = models.CharField(max_length=8)

            class Meta:
                app_label = "debtors"

        assert _errors(isolated, "DeclaredContact") == []


def test_declaring_a_field_as_not_personal_also_passes():
    with isolate_apps("debtors") as isolated:

        @personal_data(
            subject_type="workspace",
            subject="workspace_id",
            purpose="testing",
            fields={},
            not_personal={"name": "a company's name"},
        )
        class Creditor(TenantModel):
            name = models.CharField(max_length=100)

            class Meta:
                app_label = "debtors"

        assert _errors(isolated, "Creditor") == []


def test_declaring_a_field_that_does_not_exist_is_E002():
    with isolate_apps("debtors") as isolated:

        @personal_data(subject_type="debtor", purpose="testing", fields={"email": EMAIL_PD, "mobile": EMAIL_PD})
        class Misdeclared(TenantModel):
            email = models.EmailField()

            class Meta:
                app_label = "debtors"

        errors = _errors(isolated, "Misdeclared")
    assert [e.id for e in errors] == ["collectpro.E002"]
    assert "'mobile'" in errors[0].msg


def test_a_sensitive_field_that_is_not_encrypted_is_E003():
    sensitive = PD(Category.GOVERNMENT_ID, Basis.LEGAL_OBLIGATION, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True)
    with isolate_apps("debtors") as isolated:

        @personal_data(subject_type="debtor", purpose="testing", fields={"national_id": sensitive})
        class PlainId(TenantModel):
            national_id = models.CharField(max_length=20)

            class Meta:
                app_label = "debtors"

        errors = _errors(isolated, "PlainId")
    assert [e.id for e in errors] == ["collectpro.E003"]
    assert "PlainId.national_id" in errors[0].msg


def test_the_real_project_passes_manage_py_check():
    assert [e for e in check_personal_data_declared() if e.is_serious()] == []
    call_command("check")  # raises SystemCheckError on any error


def test_rows_for_subject_finds_the_debtor_in_its_workspace_only(world):
    with workspace_context(world.a):
        debtor = debtor_create(workspace=world.a, data=DebtorInput(full_name="Asha Rao", email="asha@example.com"))
    with workspace_context(world.b):
        other = debtor_create(workspace=world.b, data=DebtorInput(full_name="Asha Rao", email="asha@example.com"))

    with workspace_context(world.a):
        rows = list(rows_for_subject(subject_type="debtor", subject_id=debtor.pk, workspace=world.a))
        debtor_rows = [r for r in rows if r.model is Debtor]
        assert [r.instance.pk for r in debtor_rows] == [debtor.pk]
        assert {"full_name", "email", "phone", "national_id"} <= set(debtor_rows[0].fields)
        assert getattr(debtor_rows[0].instance, "email") == "asha@example.com"  # noqa: B009  (typed as Model)
        assert all(getattr(r.instance, "workspace_id") == world.a.pk for r in rows)  # noqa: B009
        # B's debtor cannot be reached through A.
        assert list(rows_for_subject(subject_type="debtor", subject_id=other.pk, workspace=world.a)) == []
        # Without a workspace, no tenant rows at all (never "all workspaces").
        assert [r for r in rows_for_subject(subject_type="debtor", subject_id=debtor.pk) if r.model is Debtor] == []


def _row_of(html: str, model: str, field: str) -> str:
    for row in html.split("<tr>"):
        if f"<td>{model}</td><td><code>{field}</code></td>" in row:
            return row.split("</tr>")[0]
    raise AssertionError(f"no row for {model}.{field}")


def test_the_record_of_processing_page_lists_debtor_email(world):
    response = login(world.alice).get("/w/acme/privacy/processing/")
    assert response.status_code == 200
    row = _row_of(response.content.decode(), "Debtor", "email")
    assert "<td>Legitimate interests</td>" in row
    assert f"<td>{escape(str(COLLECTION_RECORDS))}</td>" in row
    assert "<td>Delete</td>" in row and "yes (blind index)" in row
    national_id = _row_of(response.content.decode(), "Debtor", "national_id")
    assert "<td>Legal obligation</td>" in national_id


def test_another_workspaces_owner_gets_404_on_the_record_of_processing(world):
    assert login(world.bob).get("/w/acme/privacy/processing/").status_code == 404
    assert login(world.bob).get("/w/globex/privacy/processing/").status_code == 200
