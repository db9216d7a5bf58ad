from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.services import IncidentInput, incident_create
from kernel.tenancy import workspace_context

pytestmark = pytest.mark.django_db


def test_india_clocks_and_a_client(world):
    now = timezone.now()
    with workspace_context(world.a):
        incident = incident_create(
            workspace=world.a,
            data=IncidentInput(title="Laptop lost", what_happened="A laptop was lost", aware_at=now, cert_in_listed=True),
            now=now,
        )
        codes = {d.code: d for d in incident.duties.all()}
    assert set(codes) == {"IN-DPB", "IN-DPB-REPORT", "CERT-IN", "PEOPLE"}
    assert codes["CERT-IN"].due_at == now + timedelta(hours=6)
    assert codes["IN-DPB"].due_at is None and codes["IN-DPB"].target_at == now + timedelta(hours=72)
    assert incident.reference.startswith("INC-")
