"""The authority reports (incidents/reports.py, report_views.py, report_pdf.py): one per
authority duty, with the fields each regulator asks for, pre-filled from the register;
as a page and as a PDF; read-only, 404 for anything else."""

from __future__ import annotations

import re
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Client, Membership
from accounts.roles import Role
from incidents.models import Duty
from incidents.services import incident_phase_add
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.incidents.notices_world import breach, contact, decide_people, freeze_client, person
from tests.incidents.register_world import profile_workspace

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def duty(incident, code):
    with workspace_context(incident.workspace):
        return Duty.objects.for_workspace(incident.workspace_id).get(incident=incident, code=code)


def report_url(incident, code, tail=""):
    return f"/w/{incident.workspace.slug}/incidents/{incident.reference}/reports/{duty(incident, code).pk}/{tail}"


def fields(page):
    """The report page's (label, value) pairs; a field to fill in reads "to fill in"."""
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", page, flags=re.S)
    return {label: re.sub(r"<[^>]+>", "", value).strip() for label, value in pairs}


@pytest.fixture
def india(world):
    """Acme (India): a CERT-In listed incident with two people frozen and an update."""
    with workspace_context(world.a):
        client = Client.objects.for_workspace(world.a).get(reference="SAHYADRI")
    person(world.a, client, "R-1", email="r1@example.com")
    person(world.a, client, "R-2", phone="+919800000001")
    incident = breach(world.a, aware_at=timezone.now() - 2 * H, cert_in_listed=True, approx_records=400)
    freeze_client(incident, client)
    decide_people(incident)
    contact(world.a)
    with workspace_context(world.a):
        incident_phase_add(incident=incident, text="Forensics found the export was opened once.")
    return incident


def test_the_incident_page_offers_a_report_per_authority(world, india):
    page = login(world.alice).get(f"/w/acme/incidents/{india.reference}/").content.decode()
    section = page.split('data-testid="reports"')[1].split("</section>")[0]
    assert sorted(re.findall(r'data-code="([A-Z-]+)"', section)) == ["CERT-IN", "IN-DPB", "IN-DPB-REPORT"]
    assert report_url(india, "CERT-IN", "pdf/").split("/w/acme")[1] in section


def test_the_boards_intimation_and_detailed_report(world, india):
    alice = login(world.alice)
    intimation = alice.get(report_url(india, "IN-DPB")).content.decode()
    assert "Intimation of a personal data breach (DPDP Rules 2025, Rule 7(2)(a))" in intimation
    f = fields(intimation)
    assert f["Nature"] == "A CSV of accounts was emailed to an outside address by mistake."
    assert f["Extent: Data Principals affected"].startswith("about 120; 2 identified and listed on")
    assert f["Extent: records affected"] == "about 400"
    assert f["Likely impact"] == "Possible phishing using account details."
    assert f["Location of occurrence"].startswith("to fill in")
    assert f["Contact point (DPO, information or grievance officer)"] == (
        "Grievance Officer, dpo@acme.example, +911140000000"
    )
    detailed = fields(alice.get(report_url(india, "IN-DPB-REPORT")).content.decode())
    assert "Forensics found the export was opened once." in detailed["Updates since the intimation"]
    assert detailed["Implemented"] == "The recipient confirmed deletion in writing."
    assert detailed["Remedial measures"] == "Outbound email of exports is now blocked."
    assert detailed["Data Principals told"].startswith("To be told (decided: High risk of phishing.)")
    assert detailed["Findings"].startswith("to fill in")


def test_cert_in_report_has_the_forms_fields(world, india):
    f = fields(login(world.alice).get(report_url(india, "CERT-IN")).content.decode())
    assert f["Time the incident was noticed"].endswith("(Asia/Kolkata)")
    assert f["Time of occurrence"] and f["Description"]
    assert f["Type of incident"].startswith("to fill in") and "data breach" in f["Type of incident"]
    assert f["Affected systems / network (hostnames, IP addresses, OS, applications)"].startswith("to fill in")
    assert f["Actions taken"] == "The recipient confirmed deletion in writing."
    assert "deadline in law" in f["Timing"]


@pytest.mark.parametrize(
    ("code", "duty_code", "heading", "field"),
    [
        ("EU", "EU-SA", "Personal data placed at risk (Art. 33(3)(a))", "Reasons for the delay, if after 72 hours"),
        ("UK", "UK-ICO", "Containment and recovery (Art. 33(3)(d))", "Reasons for the delay, if after 72 hours"),
        ("ZA", "ZA-IR", "Part B — The security compromise", "Reasons for any delay (e.g. a direction under s22(3))"),
    ],
)
def test_gdpr_ico_and_scn1_reports_ask_for_the_reasons_when_late(world, code, duty_code, heading, field):
    workspace = profile_workspace(world, code)
    contact(workspace, email="dpo@example.eu", phone="")
    incident = breach(workspace, aware_at=timezone.now() - 80 * H, high_risk=True)
    client = login(_owner(workspace))
    page = client.get(report_url(incident, duty_code)).content.decode()
    assert heading in page
    f = fields(page)
    assert f[field].startswith("to fill in")  # 80 hours after awareness, nothing filed: say why
    assert "dpo@example.eu" in page


def _owner(workspace):
    with workspace_context(workspace):
        return Membership.objects.for_workspace(workspace).select_related("user").get(role=Role.OWNER).user


def test_the_pdf_holds_the_report(world, india, settings):
    settings.INCIDENT_REPORT_FONT = "core"  # Helvetica: its text can be read back from the file
    response = login(world.alice).get(report_url(india, "IN-DPB", "pdf/"))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{india.reference}-IN-DPB.pdf"'
    body = response.content
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    text = b"".join(
        zlib.decompress(stream) for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, flags=re.S)
    ).decode("latin-1")
    for expected in (
        "Intimation of a personal data breach",
        "Data Protection Board of India",
        "A CSV of accounts was emailed to an outside address by mistake.",
        "Grievance Officer, dpo@acme.example",
        "[to fill in]",
    ):
        assert expected in text, expected


def test_the_pdf_takes_any_text_the_officer_typed(world, settings):
    settings.INCIDENT_REPORT_FONT = "core"
    incident = breach(world.a, aware_at=timezone.now() - H, likely_consequences="Fraud → ₹ losses; धोखाधड़ी")
    response = login(world.alice).get(report_url(incident, "IN-DPB", "pdf/"))
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    settings.INCIDENT_REPORT_FONT = ""  # DejaVu Sans where the system has it
    response = login(world.alice).get(report_url(incident, "IN-DPB", "pdf/"))
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")


def test_reports_are_read_only_and_404_for_anything_else(world, india):
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    assert auditor.get(report_url(india, "IN-DPB")).status_code == 200
    assert auditor.get(report_url(india, "IN-DPB", "pdf/")).status_code == 200
    assert auditor.post(report_url(india, "IN-DPB")).status_code == 405
    agent = login(add_member(world.a, "agent@example.com", Role.AGENT))
    assert agent.get(report_url(india, "IN-DPB")).status_code == 403
    alice = login(world.alice)
    assert alice.get(report_url(india, "PEOPLE")).status_code == 404  # no report to the people
    other = breach(world.a, aware_at=timezone.now() - H)
    foreign_duty = duty(other, "IN-DPB")
    assert alice.get(f"/w/acme/incidents/{india.reference}/reports/{foreign_duty.pk}/").status_code == 404
    assert login(world.bob).get(report_url(india, "IN-DPB")).status_code == 404
