"""Operators publish policy versions and keep the sub-processor register in the admin,
or publish from the command line; every publication and change is audited."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from accounts.models import User
from audit.models import AuditEvent
from consent.models import PolicyVersion, SubProcessor
from tests.conftest import login

TEXT = "# Privacy policy\r\n\r\nWe keep your data safe."


@pytest.fixture
def operator(db) -> HttpClient:
    return login(User.objects.create_superuser(email="ops@example.com", password=None))


def _add_policy(operator: HttpClient, **overrides: str):
    data = {
        "kind": "privacy",
        "version": "2026-12",
        "effective_at_0": "2026-12-01",
        "effective_at_1": "09:00:00",
        "text": TEXT,
        **overrides,
    }
    return operator.post("/admin/consent/policyversion/add/", data)


def test_an_operator_publishes_a_policy_version_through_the_admin(operator):
    r = _add_policy(operator, material_change="on")
    assert r.status_code == 302, r.content.decode()[:2000]
    policy = PolicyVersion.objects.get(kind="privacy", version="2026-12")
    assert policy.text == TEXT.replace("\r\n", "\n") and policy.material_change
    assert policy.text_hash == hashlib.sha256(policy.text.encode()).hexdigest()
    event = AuditEvent.objects.get(action="policy.published")
    assert event.metadata == {"kind": "privacy", "version": "2026-12", "material": True}
    assert "We keep your data safe." in HttpClient().get("/legal/privacy/").content.decode()


def test_a_published_version_cannot_be_changed_or_deleted(operator):
    _add_policy(operator)
    policy = PolicyVersion.objects.get()
    again = _add_policy(operator, text="Something else")
    assert again.status_code == 200 and "This version already exists" in again.content.decode()
    operator.post(f"/admin/consent/policyversion/{policy.pk}/change/", {"text": "Rewritten history"})
    assert PolicyVersion.objects.get().text == TEXT.replace("\r\n", "\n")
    assert operator.get(f"/admin/consent/policyversion/{policy.pk}/delete/").status_code == 403
    assert PolicyVersion.objects.count() == 1


def test_sub_processor_changes_are_audited_and_shown_publicly(operator):
    r = operator.post(
        "/admin/consent/subprocessor/add/",
        {"name": "Brevo", "purpose": "Email delivery", "region": "EU (France)", "transfer_safeguard": "EU only"},
    )
    assert r.status_code == 302
    row = SubProcessor.objects.get()
    assert "Brevo" in HttpClient().get("/legal/sub-processors/").content.decode()
    operator.post(f"/admin/consent/subprocessor/{row.pk}/delete/", {"post": "yes"})
    assert not SubProcessor.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="subprocessor.").order_by("seq").values_list("action", flat=True)
    ) == [
        "subprocessor.added",
        "subprocessor.removed",
    ]


def test_a_non_operator_cannot_publish(world):
    r = login(world.alice).get("/admin/consent/policyversion/add/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_publish_policy_command(db, tmp_path):
    path = tmp_path / "terms.md"
    path.write_text("Terms, version two.\n", encoding="utf-8")
    out = StringIO()
    call_command("publish_policy", "terms", "v2", str(path), "--effective", "2026-12-05T00:00", stdout=out)
    policy = PolicyVersion.objects.get(kind="terms", version="v2")
    assert policy.effective_at.isoformat().startswith("2026-12-05T00:00") and not policy.material_change
    assert "Published Terms of use v2" in out.getvalue()
    with pytest.raises(CommandError, match="already exists"):
        call_command("publish_policy", "terms", "v2", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("publish_policy", "terms", "v3", str(tmp_path / "missing.md"))
    with pytest.raises(CommandError, match="--effective"):
        call_command("publish_policy", "terms", "v3", str(path), "--effective", "next tuesday")
