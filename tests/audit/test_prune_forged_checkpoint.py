"""A checkpoint row that does not prove itself deletes nothing: the prune checks the
checkpoints' signatures and the event the newest one names before any event goes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.checkpoints import PruneRefused, audit_events_prune
from audit.models import AuditCheckpoint, AuditEvent
from kernel.tenancy import workspace_context
from tests.audit.test_checkpoints import old_trail


def test_a_forged_checkpoint_prunes_nothing(world):
    events = old_trail(world.a)
    old = [e for e in events if e.created_at < timezone.now() - timedelta(days=365)]
    assert old
    with workspace_context(world.a):
        AuditCheckpoint.unscoped.create(
            chain=old[0].chain,
            workspace=world.a,
            seq=10**9,
            event_hash="0" * 64,
            event_created_at=timezone.now(),
            first_seq=1,
            key_id="forged",
            signature="not-a-signature",
        )
        with pytest.raises(PruneRefused, match="does not verify"):
            audit_events_prune(workspace=world.a, ids=[e.pk for e in old])
    assert AuditEvent.unscoped.filter(pk__in=[e.pk for e in old]).count() == len(old)
