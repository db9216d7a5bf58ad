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
        if self.seq is None:
            where = "chain head"
        elif self.event_id is None:
            where = f"event #{self.seq}"
        else:
            where = f"event #{self.seq} (id {self.event_id})"
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
    inserted or deleted row (sequence gap or broken prev-hash link), a row added
    after the head (not recorded in the head) and a deleted tail (the head names
    more events than remain).

    Safe on a live system: events appended after ``chain`` was read are checked
    against a fresh read of the head instead of being reported as insertions."""
    expected_prev = "0" * 64
    expected_seq = 1
    count = 0

    def broken(event: AuditEvent | None, seq: int | None, reason: str) -> ChainReport:
        return ChainReport(
            chain.key,
            count,
            chain.last_hash,
            ChainProblem(chain.key, seq, event.id if event is not None else None, reason),
        )

    for event in _events(chain.key):
        count += 1
        if event.seq > chain.last_seq:
            # Written after the head was read, or slipped in behind the application's
            # back: only a fresh head can tell (writers update both in one transaction).
            chain.refresh_from_db(fields=["last_seq", "last_hash"])
            if event.seq > chain.last_seq:
                return broken(event, event.seq, f"is beyond the chain head (#{chain.last_seq}) (row inserted?)")
        if event.seq != expected_seq:
            return broken(event, event.seq, f"sequence jumps from {expected_seq - 1} to {event.seq} (row deleted?)")
        if event.prev_hash != expected_prev:
            return broken(event, event.seq, "previous-hash link is broken")
        if event_hash(event.content()) != event.hash:
            return broken(event, event.seq, "content does not match its hash (row edited)")
        expected_prev = event.hash
        expected_seq += 1
    if chain.last_seq != expected_seq - 1:
        return broken(
            None,
            expected_seq,
            f"is missing: the head says {chain.last_seq} events but {expected_seq - 1} remain (tail deleted?)",
        )
    if chain.last_hash != expected_prev:
        return broken(None, None, "the head's hash does not match the last event (head or tail altered)")
    return ChainReport(chain.key, count, chain.last_hash, None)


def audit_events_for_workspace(*, workspace: object) -> QuerySet[AuditEvent]:
    return AuditEvent.unscoped.filter(workspace_id=getattr(workspace, "pk", workspace))
