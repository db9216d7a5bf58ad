"""The communications screens (templates, sequences) and the debt page's
"Consent & contact" section. Times are explicit: ``timezone.now`` is frozen to a
daytime (or night-time) moment in India, never the wall clock."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from types import SimpleNamespace

import pytest
from django.core import mail

from accounts.models import Client, User
from accounts.roles import Role
from accounts.services import membership_add
from audit.models import AuditEvent
from communications.models import Communication, DebtSequence, MessageTemplate, Sequence
from communications.sequences import sequence_create
from communications.services import template_save
from communications.sms import LoggingSmsProvider
from consent.models import ConsentRecord, ContactAttempt, Disclosure
from debtors.services.debts import debt_assign
from kernel.tenancy import workspace_context
from tests.conftest import PASSWORD, add_member, login
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
DAYTIME = datetime(2026, 11, 23, 11, 0, tzinfo=IST)
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=IST)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def daytime(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: DAYTIME)


@pytest.fixture
def floor(world):
    """Workspace A with an agent (assigned the debt), an auditor, a client user,
    SMS and email templates and a sequence."""
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(world.a, "auditor@example.com", Role.AUDITOR)
    client_user = User.objects.create_user(email="bank@example.com", password=PASSWORD)
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        membership_add(workspace=world.a, user=client_user, role=Role.AUDITOR, client=sahyadri)
        debt = make_debt(world.a, client_ref="SAHYADRI", email="kavya@example.com")
        debt_assign(debt=debt, agent=agent)
        template_save(
            workspace=world.a,
            name="reminder",
            channel="sms",
            language="en",
            subject="",
            body="{{ agency }}: {{ balance }} {{ currency }} due on {{ reference }}.",
        )
        template_save(
            workspace=world.a,
            name="reminder",
            channel="email",
            language="en",
            subject="About {{ reference }}",
            body="Dear {{ first_name }}, {{ balance }} {{ currency }} is due.",
        )
        seq = sequence_create(
            workspace=world.a,
            name="Standard",
            steps=[{"day": 0, "channel": "sms", "template": "reminder"}, {"day": 7, "channel": "call"}],
        )
    return SimpleNamespace(agent=agent, auditor=auditor, client_user=client_user, debt=debt, seq=seq)


def _debt_url(floor, tail=""):
    return f"/w/acme/debts/{floor.debt.pk}/{tail}"


# --- Templates ---------------------------------------------------------------------------


def test_templates_are_created_versioned_and_listed_with_their_history(world):
    c = login(world.alice)
    r = c.post(
        "/w/acme/communications/templates/",
        {
            "name": "first-reminder",
            "channel": "email",
            "language": "en",
            "subject": "Your account {{ reference }}",
            "body": "Hello {{ first_name }}, version one.",
        },
    )
    assert r.status_code == 302
    with workspace_context(world.a):
        v1 = MessageTemplate.objects.get(name="first-reminder")
    assert r["Location"] == f"/w/acme/communications/templates/{v1.pk}/"
    r = c.post(
        r["Location"], {"subject": "Your account {{ reference }}", "body": "Hello {{ first_name }}, version two."}
    )
    assert r.status_code == 302
    with workspace_context(world.a):
        versions = list(
            MessageTemplate.objects.filter(name="first-reminder")
            .order_by("version")
            .values_list("version", "is_active", "created_by_id")
        )
    assert versions == [(1, False, world.alice.pk), (2, True, world.alice.pk)]
    listing = c.get("/w/acme/communications/templates/").content.decode()
    row = listing.split("first-reminder</a>")[1].split("</tr>")[0]
    assert "v2" in row and '<td class="num">1</td>' in row  # active version 2, one older version
    detail = c.get(r["Location"]).content.decode()
    assert "version one." in detail and "version two." in detail and 'data-testid="version-1"' in detail
    assert "Save as version 3" in detail


def test_preview_renders_the_draft_against_a_debt_with_the_opt_out_line(world, floor):
    c = login(world.alice)
    r = c.get(
        "/w/acme/communications/templates/preview/",
        {"channel": "sms", "body": "Pay {{ balance }} {{ currency }} for {{ reference }}", "debt": str(floor.debt.pk)},
        **HTMX,
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert f"Pay 1000.00 INR for {floor.debt.reference}" in html
    assert 'data-testid="opt-out-line"' in html and "Stop: http" in html and "/optout/" in html
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action="personal_data.read", object_id=str(floor.debt.debtor_id)).exists()
    # Email: the subject, and the unsubscribe line after the body.
    html = c.get(
        "/w/acme/communications/templates/preview/",
        {"channel": "email", "subject": "About {{ reference }}", "body": "Hi {{ first_name }}"},
    ).content.decode()
    assert "About SAMPLE-0001" in html and "Hi Asha" in html and "To stop emails from Acme Collections" in html
    # Letters carry no opt-out line.
    html = c.get(
        "/w/acme/communications/templates/preview/", {"channel": "letter", "body": "Dear {{ full_name }}"}
    ).content.decode()
    assert "Dear Asha Rao" in html and 'data-testid="opt-out-line"' not in html


def test_a_debt_of_another_workspace_is_never_rendered(world, floor):
    with workspace_context(world.b):
        foreign = make_debt(world.b)
    html = (
        login(world.alice)
        .get(
            "/w/acme/communications/templates/preview/",
            {"channel": "sms", "body": "{{ reference }}", "debt": str(foreign.pk)},
        )
        .content.decode()
    )
    assert foreign.reference not in html and "SAMPLE-0001" in html


def test_bad_template_syntax_is_shown_inline_and_nothing_is_saved(world):
    c = login(world.alice)
    r = c.post(
        "/w/acme/communications/templates/",
        {"name": "broken", "channel": "sms", "language": "en", "body": "Hello {% bad %}"},
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert 'class="field-error"' in html and "Template error" in html
    with workspace_context(world.a):
        assert not MessageTemplate.objects.filter(name="broken").exists()
    r = c.get("/w/acme/communications/templates/preview/", {"channel": "sms", "body": "{{ balance|nosuchfilter }}"})
    assert r.status_code == 200 and "Template error" in r.content.decode()


# --- Sequences ---------------------------------------------------------------------------


def test_sequences_are_created_from_one_step_per_line(world, floor):
    c = login(world.alice)
    r = c.post(
        "/w/acme/communications/sequences/",
        {"name": "Gentle", "steps": "# the usual\n0 email reminder\n3 sms reminder\n7 call\n14 letter final"},
    )
    assert r.status_code == 302
    with workspace_context(world.a):
        seq = Sequence.objects.get(name="Gentle")
    assert seq.steps == [
        {"day": 0, "channel": "email", "template": "reminder"},
        {"day": 3, "channel": "sms", "template": "reminder"},
        {"day": 7, "channel": "call"},
        {"day": 14, "channel": "letter", "template": "final"},
    ]
    assert "Day 3: sms" in c.get(r["Location"]).content.decode()
    r = c.post(
        "/w/acme/communications/sequences/", {"name": "Bad", "steps": "zero email reminder\n3 sms missing\n1 pigeon"}
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "line 1" in html and "no active sms template named “missing”" in html
    r = c.post("/w/acme/communications/sequences/", {"name": "Backwards", "steps": "3 call\n1 pigeon"})
    assert r.status_code == 400 and "channel must be one of" in r.content.decode()
    with workspace_context(world.a):
        assert not Sequence.objects.filter(name__in=["Bad", "Backwards"]).exists()


def test_sequence_enrol_pause_and_resume_from_the_debt_page(world, floor, daytime):
    c = login(floor.agent)
    r = c.post(_debt_url(floor, "sequences/"), {"sequence": str(floor.seq.pk)}, **HTMX)
    assert r.status_code == 200
    with workspace_context(world.a):
        enrolment = DebtSequence.objects.get(debt=floor.debt, sequence=floor.seq)
    html = r.content.decode()
    assert (
        f'data-testid="enrolment-{enrolment.pk}"' in html
        and "step 1 of 2" in html
        and "The next step may run now." in html
    )
    r = c.post(_debt_url(floor, f"sequences/{enrolment.pk}/pause/"), {"paused": "1"}, **HTMX)
    assert r.status_code == 200 and "Paused." in r.content.decode() and "Resume</button>" in r.content.decode()
    with workspace_context(world.a):
        enrolment.refresh_from_db()
        assert enrolment.paused is True
    # The sequence's page lists the enrolment with its next step and paused flag.
    page = login(world.alice).get(f"/w/acme/communications/sequences/{floor.seq.pk}/").content.decode()
    assert floor.debt.reference in page and "paused</span>" in page and "step 1 of 2" in page
    r = c.post(_debt_url(floor, f"sequences/{enrolment.pk}/pause/"), {"paused": "0"})
    assert r.status_code == 302  # without htmx: back to the debt page
    with workspace_context(world.a):
        enrolment.refresh_from_db()
        assert enrolment.paused is False
    # Enrolling twice is refused with a message, not a second enrolment.
    r = c.post(_debt_url(floor, "sequences/"), {"sequence": str(floor.seq.pk)}, **HTMX)
    assert "Already enrolled in “Standard”." in r.content.decode()
    with workspace_context(world.a):
        assert DebtSequence.objects.filter(debt=floor.debt).count() == 1


# --- The debt page -----------------------------------------------------------------------


def test_agent_records_sms_withdrawal_and_the_next_sms_is_refused_with_the_reason(
    world, floor, daytime, django_capture_on_commit_callbacks
):
    LoggingSmsProvider.outbox.clear()
    c = login(floor.agent)
    page = c.get(_debt_url(floor)).content.decode()
    assert 'data-testid="consent-panel"' in page and "Cease all communication" in page
    r = c.post(_debt_url(floor, "consent/"), {"purpose": "contact_sms", "action": "withdraw"}, **HTMX)
    assert r.status_code == 200
    assert '<td data-purpose="contact_sms"><span class="badge badge-bad">withdrawn</span>' in r.content.decode()
    with workspace_context(world.a):
        record = ConsentRecord.objects.get(subject_id=str(floor.debt.debtor_id))
    assert (record.purpose, record.action, record.source, record.actor_user_id) == (
        "contact_sms",
        "withdraw",
        "agent_call",
        floor.agent.pk,
    )

    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(_debt_url(floor, "consent/send/"), {"template": "sms:reminder"}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="refusal"' in html and "The debtor opted out of sms." in html and "12 CFR 1006.14(h)" in html
    assert LoggingSmsProvider.outbox == []
    with workspace_context(world.a):
        assert list(Communication.objects.filter(debt=floor.debt).values_list("channel", "status")) == [
            ("sms", "refused")
        ]

    # Email is still allowed, and goes out with its opt-out link.
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(_debt_url(floor, "consent/send/"), {"template": "email:reminder"}, **HTMX)
    assert "Email “reminder” queued" in r.content.decode()
    (message,) = mail.outbox
    assert message.to == ["kavya@example.com"] and "/optout/" in message.body


def test_every_reason_is_shown_and_a_plain_post_redirects_with_it(world, floor, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NIGHT)
    c = login(floor.agent)
    c.post(_debt_url(floor, "consent/"), {"purpose": "contact_sms", "action": "withdraw"})
    r = c.post(_debt_url(floor, "consent/send/"), {"template": "sms:reminder"}, **HTMX)
    html = r.content.decode()
    assert (
        'data-reason="opted_out"' in html
        and 'data-reason="outside_hours"' in html
        and "It is 23:00 for the debtor" in html
    )
    assert "2026-11-23 23:00</time>" in html.split('data-testid="refusal"')[1]  # the debtor's time
    r = c.post(_debt_url(floor, "consent/send/"), {"template": "sms:reminder"})
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    assert "Not sent — " in page and "The debtor opted out of sms." in page


def test_can_we_contact_now_shows_each_channel_and_records_nothing(world, floor, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NIGHT)
    page = login(floor.agent).get(_debt_url(floor)).content.decode()
    section = page.split('data-testid="contact-now"')[1].split("</article>")[0]
    for channel in ("call", "email", "sms", "whatsapp"):
        assert f'data-channel="{channel}">' in section
    assert "Mon 2026-11-23 23:00" in page  # shown in the debtor's time zone
    assert section.count("It is 23:00 for the debtor (Asia/Kolkata)") == 4  # letters are not time-bound
    assert 'data-channel="letter">Letter: <span class="badge badge-ok">yes' in section
    with workspace_context(world.a):
        assert not ContactAttempt.objects.exists()


def test_cease_all_communication_stops_every_channel(world, floor, daytime):
    c = login(floor.agent)
    r = c.post(_debt_url(floor, "consent/"), {"purpose": "all_contact", "action": "withdraw"}, **HTMX)
    html = r.content.decode()
    assert 'data-testid="cease"' in html and "Lift cease communication" in html
    section = html.split('data-testid="contact-now"')[1].split("</article>")[0]
    assert section.count("The debtor asked us to stop all communication.") == 5
    r = c.post(_debt_url(floor, "consent/"), {"purpose": "marketing", "action": "grant"}, **HTMX)
    assert "Choose a purpose" in r.content.decode()


def test_disclosures_are_recorded_and_listed(world, floor):
    c = login(floor.agent)
    r = c.post(
        _debt_url(floor, "consent/disclosures/"),
        {
            "recipient_type": "legal_firm",
            "recipient_name": "Mehta & Co",
            "categories": ["identity", "financial"],
            "purpose": "Recovery suit",
        },
        **HTMX,
    )
    assert r.status_code == 200
    table = r.content.decode().split('data-testid="disclosures"')[1]
    assert "Mehta &amp; Co" in table and "financial, identity" in table and "Recovery suit" in table
    with workspace_context(world.a):
        assert Disclosure.objects.get(debtor_id=floor.debt.debtor_id).actor_user_id == floor.agent.pk
    r = c.post(
        _debt_url(floor, "consent/disclosures/"),
        {"recipient_type": "legal_firm", "recipient_name": "", "purpose": "x"},
        **HTMX,
    )
    assert 'class="field-error"' in r.content.decode()
    with workspace_context(world.a):
        assert Disclosure.objects.count() == 1


def test_proof_of_consent_is_linked_from_the_debt_page(world, floor):
    page = login(floor.agent).get(_debt_url(floor)).content.decode()
    assert f"/w/acme/debtors/{floor.debt.debtor_id}/consent-proof.csv" in page


# --- Who may do what ---------------------------------------------------------------------


def test_auditors_see_everything_read_only_and_every_post_is_403(world, floor, daytime):
    c = login(floor.auditor)
    with workspace_context(world.a):
        template = MessageTemplate.objects.get(name="reminder", channel="sms")
    for url in (
        "/w/acme/communications/templates/",
        f"/w/acme/communications/templates/{template.pk}/",
        "/w/acme/communications/sequences/",
        f"/w/acme/communications/sequences/{floor.seq.pk}/",
    ):
        r = c.get(url)
        assert r.status_code == 200, url
        assert '<form method="post" novalidate>' not in r.content.decode(), url
    page = c.get(_debt_url(floor)).content.decode()
    assert 'data-testid="consent-panel"' in page and 'data-testid="contact-now"' in page
    assert 'href="/w/acme/communications/templates/"' in page  # the nav link
    assert "Cease all communication" not in page and "/consent/send/" not in page and "Record a disclosure" not in page
    posts = {
        "/w/acme/communications/templates/": {"name": "x", "channel": "sms", "language": "en", "body": "x"},
        f"/w/acme/communications/templates/{template.pk}/": {"body": "changed"},
        "/w/acme/communications/sequences/": {"name": "x", "steps": "0 call"},
        _debt_url(floor, "consent/"): {"purpose": "contact_sms", "action": "withdraw"},
        _debt_url(floor, "consent/send/"): {"template": "sms:reminder"},
        _debt_url(floor, "consent/disclosures/"): {
            "recipient_type": "other",
            "recipient_name": "x",
            "categories": ["identity"],
            "purpose": "x",
        },
        _debt_url(floor, "sequences/"): {"sequence": str(floor.seq.pk)},
    }
    for url, data in posts.items():
        assert c.post(url, data).status_code == 403, url
    with workspace_context(world.a):
        assert MessageTemplate.objects.count() == 2 and Sequence.objects.count() == 1
        assert (
            not ConsentRecord.objects.exists()
            and not Communication.objects.exists()
            and not DebtSequence.objects.exists()
        )


def test_client_users_see_nothing_of_it(world, floor):
    c = login(floor.client_user)
    page = c.get(_debt_url(floor)).content.decode()
    assert page.count("debt-consent") == 0 and "Can we contact now?" not in page and "/communications/" not in page
    for url in (
        "/w/acme/communications/templates/",
        "/w/acme/communications/sequences/",
        "/w/acme/communications/templates/preview/",
    ):
        assert c.get(url).status_code == 404, url


def test_agents_act_only_on_their_own_debts(world, floor):
    with workspace_context(world.a):
        other = make_debt(world.a)
    c = login(floor.agent)
    assert (
        c.post(f"/w/acme/debts/{other.pk}/consent/", {"purpose": "contact_sms", "action": "withdraw"}).status_code
        == 404
    )
    assert c.post(f"/w/acme/debts/{other.pk}/sequences/", {"sequence": str(floor.seq.pk)}).status_code == 404


def test_bob_gets_404_everywhere(world, floor):
    with workspace_context(world.a):
        template = MessageTemplate.objects.get(name="reminder", channel="sms")
    bob = login(world.bob)
    urls = [
        "/w/acme/communications/templates/",
        "/w/acme/communications/templates/preview/",
        f"/w/acme/communications/templates/{template.pk}/",
        "/w/acme/communications/sequences/",
        f"/w/acme/communications/sequences/{floor.seq.pk}/",
        _debt_url(floor, "consent/"),
        _debt_url(floor, "consent/send/"),
        _debt_url(floor, "consent/disclosures/"),
        _debt_url(floor, "sequences/"),
    ]
    for url in urls:
        assert bob.get(url).status_code == 404, url
        assert (
            bob.post(
                url,
                {
                    "purpose": "contact_sms",
                    "action": "withdraw",
                    "template": "sms:reminder",
                    "sequence": str(floor.seq.pk),
                },
            ).status_code
            == 404
        ), url
    # bob's own workspace URLs with A's ids: 404 too.
    assert bob.get(f"/w/globex/communications/templates/{template.pk}/").status_code == 404
    assert bob.get(f"/w/globex/communications/sequences/{floor.seq.pk}/").status_code == 404
    assert (
        bob.post(
            f"/w/globex/debts/{floor.debt.pk}/consent/", {"purpose": "contact_sms", "action": "withdraw"}
        ).status_code
        == 404
    )
    with workspace_context(world.a):
        assert not ConsentRecord.objects.exists() and not DebtSequence.objects.exists()
