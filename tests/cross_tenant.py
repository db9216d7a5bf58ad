"""Cross-tenant coverage for every route, discovered from the URLconf.

``workspace_routes()`` and ``api_routes()`` walk ``django.urls.get_resolver()``, so a
route added under ``/w/<slug>/`` or ``/api/v1/`` is tested by
``tests/kernel/tenancy/test_cross_tenant.py`` without anyone writing a test for it. What a
URL parameter points at is declared once, in ``PARAM_MODELS``; how to make such an
object in a workspace, once, in ``FACTORIES``. A route whose parameter is in neither
fails its tests with a message saying what to register, so a new route cannot
silently escape cross-tenant coverage.

To cover a new kind of object:

1. map its URL kwarg to the model label in ``PARAM_MODELS`` (API views that call
   their kwarg ``id`` instead name the model in the view class's ``tenant_model``);
2. add a factory for the model to ``FACTORIES`` that creates one through the app's
   services (it runs inside ``workspace_context``; ask ``objs.get("app.Model")`` for
   the objects it depends on, so they are shared with the rest of the URL).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

from accounts.models import Membership, User, Workspace
from accounts.roles import Role
from kernel.tenancy import workspace_context

WORKSPACE_PREFIX = "w/<slug:workspace_slug>/"
API_PREFIX = "api/v1/"
WORKSPACE_KWARG = "workspace_slug"

# The view's own ``tenant_model`` attribute says what the kwarg points at.
VIEW_TENANT_MODEL = "<view.tenant_model>"

# URL kwarg name -> "app_label.Model" of the tenant object it identifies.
PARAM_MODELS: dict[str, str] = {
    "member_id": "accounts.Membership",
    "api_key_id": "accounts.ApiKey",
    "invitation_id": "accounts.Invitation",
    "id": VIEW_TENANT_MODEL,
    "client_id": "accounts.Client",
    "debtor_id": "debtors.Debtor",
    "debt_id": "debtors.Debt",
    "dispute_id": "debtors.Dispute",
    "document_id": "debtors.Document",
    "placement_id": "placements.PlacementImport",
    "import_id": "placements.PlacementImport",
    "link_id": "payments.PaymentLink",
    "exception_id": "payments.ReconciliationException",
    "template_id": "communications.MessageTemplate",
    "sequence_id": "communications.Sequence",
    "enrolment_id": "communications.DebtSequence",
    "request_id": "privacy_requests.PrivacyRequest",
    "reference": "incidents.Incident",
    "duty_id": "incidents.Duty",
    "alert_id": "incidents.SecurityAlert",
    "hold_id": "debtors.LegalHold",
    "run_id": "retention.PurgeRun",
}

# URL kwargs that name no object (a verb, a format…): the valid value every test uses,
# the same in both workspaces, so only the object ids differ.
PARAM_VALUES: dict[str, str] = {
    "action": "note",
}

# URL kwargs that identify their object by another field than its primary key.
PARAM_FIELDS: dict[str, str] = {
    "reference": "reference",  # an incident, by its INC-<year>-NNNN reference
}

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# A header that can never match a stored key (the secret's hash is looked up).
BOGUS_KEY = "cp_00000000_not-a-real-key-at-all-000000000000"

_PARAM_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


# --- Walking the URLconf ------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern, with its full route string and the converters of every level."""

    name: str
    pattern: str
    converters: Mapping[str, Any] = field(compare=False, repr=False)
    callback: Callable[..., Any] = field(compare=False, repr=False)
    # re_path() patterns cannot be filled in from their converters; the walker test refuses them.
    is_regex: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return self.name

    @property
    def params(self) -> tuple[str, ...]:
        """The URL kwargs in order, without the workspace slug."""
        names = [m["name"] for m in _PARAM_RE.finditer(self.pattern)]
        return tuple(n for n in names if n != WORKSPACE_KWARG)

    @property
    def object_params(self) -> tuple[str, ...]:
        """The URL kwargs that identify a tenant object (what cross-tenant tests swap)."""
        return tuple(p for p in self.params if p not in PARAM_VALUES)

    @property
    def view_class(self) -> type | None:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def methods(self) -> tuple[str, ...]:
        """Upper-case methods the view implements (function views: GET and POST)."""
        cls = self.view_class
        if cls is None:
            return ("GET", "POST")
        allowed = getattr(cls, "http_method_names", HTTP_METHODS)
        return tuple(m.upper() for m in HTTP_METHODS if m in allowed and hasattr(cls, m))

    def missing_kwargs(self) -> dict[str, Any]:
        """Ids that exist nowhere, for comparing a foreign object with a missing one."""
        from django.urls.converters import IntConverter, UUIDConverter

        values: dict[str, Any] = {}
        for param in self.params:
            converter = self.converters.get(param)
            if param in PARAM_VALUES:
                values[param] = PARAM_VALUES[param]
            elif isinstance(converter, UUIDConverter):
                values[param] = uuid.UUID(int=1)
            elif isinstance(converter, IntConverter):
                values[param] = 2**31 - 1
            else:
                values[param] = "does-not-exist"
        return values

    def url(self, workspace_slug: str | None = None, **kwargs: Any) -> str:
        values = dict(kwargs)
        if workspace_slug is not None:
            values[WORKSPACE_KWARG] = workspace_slug

        def substitute(match: re.Match[str]) -> str:
            name = match["name"]
            converter = self.converters.get(name)
            value = values[name]
            return str(converter.to_url(value) if converter is not None else value)

        return "/" + _PARAM_RE.sub(substitute, self.pattern)


def _walk(patterns: list[Any], prefix: str, converters: Mapping[str, Any], is_regex: bool = False) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        here = {**converters, **getattr(pattern, "converters", {})}
        route = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route, here, is_regex or isinstance(pattern, RegexPattern))
        elif isinstance(entry, URLPattern):
            yield Route(
                name=entry.name or route,
                pattern=route,
                converters=here,
                callback=entry.callback,
                is_regex=is_regex or isinstance(pattern, RegexPattern),
            )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", {}))


def workspace_routes() -> list[Route]:
    """Every route of the workspace UI (``/w/<slug>/…``)."""
    return [r for r in all_routes() if r.pattern.startswith(WORKSPACE_PREFIX)]


def api_routes() -> list[Route]:
    """Every route of the REST API (``/api/v1/…``)."""
    return [r for r in all_routes() if r.pattern.startswith(API_PREFIX)]


# --- What each parameter points at ---------------------------------------------------


def model_label_for(route: Route, param: str) -> str:
    """The model a route's URL kwarg identifies; fails the test if nobody said."""
    label = PARAM_MODELS.get(param)
    if label is None:
        pytest.fail(
            f"Route {route.name!r} ({route.pattern}) takes the URL parameter {param!r}, which "
            f"tests/cross_tenant.py does not know. Register it in PARAM_MODELS "
            f"({param!r}: 'app_label.Model') and give that model a factory in FACTORIES — or, if it "
            f"names no object, give a valid value in PARAM_VALUES — so the route gets its "
            f"cross-tenant tests."
        )
    if label != VIEW_TENANT_MODEL:
        return label
    model = getattr(route.view_class or route.callback, "tenant_model", None)
    if model is None:
        pytest.fail(
            f"Route {route.name!r} ({route.pattern}) takes {param!r}, whose model comes from the "
            f"view's `tenant_model` attribute, but {(route.view_class or route.callback).__qualname__} has none. Set "
            f"`tenant_model = <Model>` on the view class (or use a specific kwarg name registered "
            f"in tests/cross_tenant.py PARAM_MODELS)."
        )
    return str(model._meta.label)


def unregistered(routes: list[Route]) -> list[str]:
    """Problems that would make routes fail their cross-tenant tests, for one report."""
    problems = []
    for route in routes:
        for param in route.object_params:
            try:
                label = model_label_for(route, param)
            except pytest.fail.Exception as exc:
                problems.append(str(exc))
                continue
            if label not in FACTORIES:
                problems.append(f"{route.name}: no factory for {label} in tests/cross_tenant.py FACTORIES")
    return problems


# --- Making one object of each model in a workspace ---------------------------------


def owner_membership(workspace: Workspace) -> Membership:
    with workspace_context(workspace):
        membership = (
            Membership.objects.for_workspace(workspace)
            .select_related("user", "workspace")
            .filter(role=Role.OWNER)
            .order_by("created_at")
            .first()
        )
    assert membership is not None, f"{workspace.slug} has no owner"
    return membership


class TenantObjects:
    """Finds or creates one object of each model in one workspace and remembers it,
    so that e.g. a dispute and the debt in the same URL belong together."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._objects: dict[str, Model] = {}

    def get(self, label: str) -> Model:
        if label not in self._objects:
            factory = FACTORIES.get(label)
            if factory is None:
                pytest.fail(
                    f"No factory for {label} in tests/cross_tenant.py FACTORIES: add one that creates "
                    f"an object of it in a workspace (through the app's services)."
                )
            with workspace_context(self.workspace):
                self._objects[label] = factory(self)
        return self._objects[label]

    def kwargs_for(self, route: Route) -> dict[str, Any]:
        return {
            param: PARAM_VALUES[param]
            if param in PARAM_VALUES
            else getattr(self.get(model_label_for(route, param)), PARAM_FIELDS.get(param, "pk"))
            for param in route.params
        }

    def url(self, route: Route) -> str:
        return route.url(self.workspace.slug, **self.kwargs_for(route))

    def create_all(self) -> None:
        for label in FACTORIES:
            self.get(label)

    def ids(self) -> list[str]:
        return [str(obj.pk) for obj in self._objects.values()]

    @property
    def slug(self) -> str:
        return self.workspace.slug


def _membership(objs: TenantObjects) -> Model:
    from accounts.services import membership_add

    user = User.objects.create_user(email=f"member-{objs.slug}@example.com", password="probe-password-1234-xyz")
    return membership_add(workspace=objs.workspace, user=user, role=Role.AGENT)


def _invitation(objs: TenantObjects) -> Model:
    from accounts.services import invitation_create

    issued = invitation_create(
        acting=owner_membership(objs.workspace), email=f"invitee-{objs.slug}@example.com", role=Role.AGENT
    )
    return issued.invitation


def _api_key(objs: TenantObjects) -> Model:
    from accounts.services import api_key_create

    return api_key_create(workspace=objs.workspace, name="cross-tenant probe").api_key


def _client(objs: TenantObjects) -> Model:
    from accounts.services import client_create

    return client_create(workspace=objs.workspace, name="Probe Creditor", reference=f"PROBE-{objs.slug}")


def _debtor(objs: TenantObjects) -> Model:
    # Debtors are reached through their debts (a client user sees only those of its
    # client's debts), so the pool's debtor is the one its debt was placed against.
    return objs.get("debtors.Debt").debtor  # type: ignore[attr-defined,no-any-return]


def _debt(objs: TenantObjects) -> Model:
    from debtors.services.debtors import DebtorInput, debtor_create
    from debtors.services.debts import DebtInput, debt_create

    debtor = debtor_create(
        workspace=objs.workspace,
        data=DebtorInput(full_name="Pat Probe", email=f"pat@{objs.slug}.example", external_ref=f"XT-{objs.slug}"),
    )
    return debt_create(
        workspace=objs.workspace,
        client=objs.get("accounts.Client"),  # type: ignore[arg-type]
        debtor=debtor,
        data=DebtInput(reference=f"XT-{objs.slug}", original_amount_minor=10_000, currency=objs.workspace.currency),
    )


def _dispute(objs: TenantObjects) -> Model:
    from debtors.services.disputes import dispute_open

    return dispute_open(debt=objs.get("debtors.Debt"), reason="other", details="cross-tenant probe")  # type: ignore[arg-type]


# The smallest file the upload service accepts (its type is sniffed from the bytes).
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _document(objs: TenantObjects) -> Model:
    from debtors.services.records import document_upload

    return document_upload(debt=objs.get("debtors.Debt"), upload=BytesIO(PNG_BYTES), file_name="probe.png")  # type: ignore[arg-type]


def _placement_import(objs: TenantObjects) -> Model:
    """A finished import with one rejected row, so its rejects download exists."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from placements import imports

    currency = objs.workspace.currency
    csv = (
        "full_name,debt_reference,amount,currency\n"
        f"Pat Probe,XT-CSV-1,10.00,{currency}\n"
        f"Amount Missing,XT-CSV-2,,{currency}\n"
    ).encode()
    job = imports.placement_import_create(
        workspace=objs.workspace,
        file_obj=SimpleUploadedFile("placements.csv", csv, content_type="text/csv"),
        file_name="placements.csv",
        client=objs.get("accounts.Client"),
    )
    job = imports.placement_import_execute(workspace=objs.workspace, import_id=job.pk)
    assert job.rejected_count == 1 and job.rejects_storage_name, (job.status, job.error)
    return job


def _payment_link(objs: TenantObjects) -> Model:
    from payments.services import payment_link_create

    return payment_link_create(debt=objs.get("debtors.Debt")).link  # type: ignore[arg-type]


def _reconciliation_exception(objs: TenantObjects) -> Model:
    from payments.models import ReconciliationException
    from payments.reconciliation import reconciliation_run

    run = reconciliation_run(workspace=objs.workspace, provider_name="sandbox")
    # Exceptions are only ever written inside a run (there is no service for one alone);
    # a provider disagreeing with us is the sandbox's to simulate, not this table's.
    return ReconciliationException.objects.for_workspace(objs.workspace).create(
        workspace=objs.workspace, run=run, kind="amount_mismatch", detail="cross-tenant probe"
    )


def _message_template(objs: TenantObjects) -> Model:
    from communications.services import template_save

    return template_save(
        workspace=objs.workspace,
        name=f"probe-{objs.slug}",
        channel="email",
        language="en",
        subject="Probe",
        body="Hello {{ first_name }}",
    )


def _sequence(objs: TenantObjects) -> Model:
    from communications.sequences import sequence_create

    return sequence_create(workspace=objs.workspace, name=f"Probe {objs.slug}", steps=[{"day": 0, "channel": "call"}])


def _debt_sequence(objs: TenantObjects) -> Model:
    from communications.sequences import sequence_enrol

    return sequence_enrol(debt=objs.get("debtors.Debt"), sequence=objs.get("communications.Sequence"))  # type: ignore[arg-type]


def _privacy_request(objs: TenantObjects) -> Model:
    """A verified access request about the pool's debtor (so a client-scoped key of
    another client must not see it)."""
    from privacy_requests.services import privacy_request_create

    return privacy_request_create(
        workspace=objs.workspace,
        type="access",
        channel="phone",
        debtor=objs.get("debtors.Debtor"),  # type: ignore[arg-type]
        details="Cross-tenant probe: a copy of my data, please.",
        verified_by="cross-tenant probe: caller gave date of birth",
    )


def _legal_hold(objs: TenantObjects) -> Model:
    """A hold on the pool's debt (placed as a manager would, from the debt page)."""
    from datetime import timedelta

    from django.utils import timezone

    from retention.holds import legal_hold_place

    return legal_hold_place(
        workspace=objs.workspace,
        scope="debt",
        debt=objs.get("debtors.Debt"),  # type: ignore[arg-type]
        reason="litigation",
        case_reference=f"CASE-{objs.slug}",
        review_on=(timezone.now() + timedelta(days=90)).date(),
    )


def _purge_run(objs: TenantObjects) -> Model:
    """A finished dry run of the workspace (its receipt page)."""
    from retention.engine import purge_execute, purge_start

    return purge_execute(run=purge_start(workspace=objs.workspace, dry_run=True, trigger="manual"))


def _incident(objs: TenantObjects) -> Model:
    """An incident recorded in the workspace. References are numbered per workspace, so
    both workspaces' first one would be INC-<year>-0001, and a "foreign" reference swapped
    into one's own URL would name one's own incident: each workspace's probe gets a
    different number (one more incident per workspace created before it)."""
    from django.utils import timezone

    from incidents.services import IncidentInput, incident_create

    earlier = Workspace.objects.filter(pk__lt=objs.workspace.pk).count()
    now = timezone.now()
    for n in range(earlier + 1):
        incident = incident_create(
            workspace=objs.workspace,
            data=IncidentInput(
                title=f"Probe incident {n} of {objs.slug}",
                what_happened="Cross-tenant probe: a laptop was left on a train.",
                aware_at=now,
            ),
            now=now,
        )
    return incident


def _duty(objs: TenantObjects) -> Model:
    """The probe incident's first duty (every profile tells the people affected)."""
    from incidents.models import Duty

    incident = objs.get("incidents.Incident")
    return Duty.objects.for_workspace(objs.workspace).filter(incident=incident).order_by("code").first()  # type: ignore[return-value]


def _security_alert(objs: TenantObjects) -> Model:
    """An open alert (a burst of failed sign-ins for the workspace's owner), raised as the
    detection raises one."""
    from django.utils import timezone

    from incidents.alerts import Burst, alert_raise

    now = timezone.now()
    user_id = owner_membership(objs.workspace).user_id
    burst = Burst(f"user:{user_id}", count=20, first_at=now, last_at=now, actor_user_id=user_id)
    alert, _new = alert_raise(workspace=objs.workspace, kind="failed_logins", burst=burst, threshold=20, now=now)
    return alert


# "app_label.Model" -> a function making one such object in ``objs.workspace``. It runs
# inside that workspace's context and should go through the owning app's services.
FACTORIES: dict[str, Callable[[TenantObjects], Model]] = {
    "accounts.Membership": _membership,
    "accounts.Invitation": _invitation,
    "accounts.ApiKey": _api_key,
    "accounts.Client": _client,
    "debtors.Debtor": _debtor,
    "debtors.Debt": _debt,
    "debtors.Dispute": _dispute,
    "debtors.Document": _document,
    "placements.PlacementImport": _placement_import,
    "payments.PaymentLink": _payment_link,
    "payments.ReconciliationException": _reconciliation_exception,
    "communications.MessageTemplate": _message_template,
    "communications.Sequence": _sequence,
    "communications.DebtSequence": _debt_sequence,
    "privacy_requests.PrivacyRequest": _privacy_request,
    "incidents.Incident": _incident,
    "incidents.Duty": _duty,
    "incidents.SecurityAlert": _security_alert,
    "debtors.LegalHold": _legal_hold,
    "retention.PurgeRun": _purge_run,
}


# --- Requests -------------------------------------------------------------------------


def send(client: HttpClient, method: str, url: str) -> HttpResponse:
    """Send ``method`` with an empty JSON body where one is allowed."""
    if method in ("POST", "PUT", "PATCH"):
        return client.generic(method, url, data="{}", content_type="application/json")  # type: ignore[return-value]
    return client.generic(method, url)  # type: ignore[return-value]


def assert_api_error(response: HttpResponse, status: int) -> dict[str, Any]:
    """The API's one documented error format: {"error": {"code": …, "message": …}}."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    return error  # type: ignore[no-any-return]
