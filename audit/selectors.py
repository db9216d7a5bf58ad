from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from audit.models import AuditChain, AuditEvent
from audit.services import event_hash


@dataclass(frozen=True)
class ChainProblem:
    chain: str
    seq: int | None
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.seq} (id {self.event_id})" if self.seq is not None else "chain head"
        return f"{self.chain}: {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _events(chain: str, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        page = list(AuditEvent.unscoped.filter(chain=chain, seq__gt=last).order_by("seq")[:batch])
        if not page:
            return
        yield from page
        last = page[-1].seq


def verify_chain(chain: AuditChain) -> ChainReport:
    """Recompute every hash in order. Detects an edited row (hash mismatch), an
    inserted or deleted row (sequence gap or broken prev-hash link) and a deleted
    tail (the head no longer matches the last event)."""
    expected_prev = "0" * 64
    expected_seq = 1
    count = 0
    for event in _events(chain.key):
        count += 1
        if event.seq != expected_seq:
            return ChainReport(
                chain.key, count, chain.last_hash,
                ChainProblem(chain.key, event.seq, event.id,
                             f"sequence jumps from {expected_seq - 1} to {event.seq} (row deleted?)"),
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                chain.key, count, chain.last_hash,
                ChainProblem(chain.key, event.seq, event.id, "previous-hash link is broken"),
            )
        if event_hash(event.content()) != event.hash:
            return ChainReport(
                chain.key, count, chain.last_hash,
                ChainProblem(chain.key, event.seq, event.id, "content does not match its hash (row edited)"),
            )
        expected_prev = event.hash
        expected_seq += 1
    if chain.last_seq != expected_seq - 1 or chain.last_hash != expected_prev:
        return ChainReport(
            chain.key, count, chain.last_hash,
            ChainProblem(
                chain.key, None, None,
                f"head says {chain.last_seq} events but {expected_seq - 1} remain (tail deleted?)",
            ),
        )
    return ChainReport(chain.key, count, chain.last_hash, None)


def audit_events_for_workspace(*, workspace: object) -> QuerySet[AuditEvent]:
    return AuditEvent.unscoped.filter(workspace_id=getattr(workspace, "pk", workspace))
