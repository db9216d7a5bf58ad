"""Reading the audit trail: verification (from the last signed checkpoint when older
events were pruned, ADR 0016) and the workspace's events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from audit import actions
from audit.models import AuditChain, AuditCheckpoint, AuditEvent
from audit.services import event_hash
from audit.signing import checkpoint_signature_problem

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainProblem:
    chain: str
    seq: int | None
    event_id: int | None
    reason: str
    where: str = ""  # overrides the place named in the message ("checkpoint #40")

    def __str__(self) -> str:
        if self.where:
            where = self.where
        elif self.seq is None:
            where = "chain head"
        elif self.event_id is None:
            where = f"event #{self.seq}"
        else:
            where = f"event #{self.seq} (id {self.event_id})"
        return f"{self.chain}: {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int  # events checked (the kept part)
    head_hash: str
    problem: ChainProblem | None
    pruned: int = 0  # events before the kept part, removed by retention
    checkpoint: AuditCheckpoint | None = None  # the signed checkpoint the kept part starts from
    checkpoints: int = 0  # signed checkpoints whose signatures were checked

    @property
    def ok(self) -> bool:
        return self.problem is None


def _events(chain: str, batch: int = 2000) -> Iterator[AuditEvent]:
    last = -1
    while True:
        page = list(AuditEvent.unscoped.filter(chain=chain, seq__gt=last).order_by("seq")[:batch])
        if not page:
            return
        yield from page
        last = page[-1].seq


def link_problem(event: AuditEvent, *, expected_seq: int, expected_prev: str | None) -> str | None:
    """Why ``event`` does not continue the chain where it should (``expected_prev`` None:
    the link cannot be checked, a later checkpoint vouches for it), or None."""
    if event.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {event.seq} (row deleted?)"
    if expected_prev is not None and event.prev_hash != expected_prev:
        return "previous-hash link is broken"
    if event_hash(event.content()) != event.hash:
        return "content does not match its hash (row edited)"
    return None


def pruned_through(*, chain: str) -> int:
    """The last sequence number retention pruned from ``chain`` (0: none). Each pruning
    records an ``audit.events_pruned`` event in the same transaction, so the newest one
    is exact: the chain must start right after it."""
    event = AuditEvent.unscoped.filter(chain=chain, action=actions.AUDIT_EVENTS_PRUNED).order_by("-seq").first()
    return int(event.metadata.get("last_seq") or 0) if event is not None else 0


def checkpoints_of(*, chain: str) -> list[AuditCheckpoint]:
    return list(AuditCheckpoint.unscoped.filter(chain=chain).order_by("seq"))


def verify_chain(chain: AuditChain) -> ChainReport:
    """Check the signed checkpoints, then recompute every kept hash in order. Detects
    an edited row (hash mismatch), an inserted or deleted row (sequence gap or broken
    prev-hash link), a row added after the head, a deleted tail, a forged, altered or
    removed checkpoint, events rewritten before a checkpoint, and events missing
    before the kept part beyond what retention recorded pruning.

    When older events were pruned, the kept part starts from the signed checkpoint at
    the last pruned event: its first event must link to that checkpoint's hash (while
    a purge is still pruning a segment, the next checkpoint vouches for it instead).

    Safe on a live system: events appended after ``chain`` was read are checked
    against a fresh read of the head, and a purge pruning while this runs is waited
    out by checking once more."""
    horizon = pruned_through(chain=chain.key)
    report = _verify(chain, horizon)
    if not report.ok and pruned_through(chain=chain.key) != horizon:
        chain.refresh_from_db(fields=["last_seq", "last_hash"])
        report = _verify(chain, pruned_through(chain=chain.key))
    return report


def _checkpoint_chain_problem(chain: str, checkpoints: list[AuditCheckpoint]) -> ChainProblem | None:
    previous = ""
    for cp in checkpoints:
        where = f"checkpoint #{cp.seq} (id {cp.pk})"
        problem = checkpoint_signature_problem(cp)
        if problem is None and cp.previous_signature != previous:
            problem = "does not follow the checkpoint before it (a checkpoint was removed or replaced)"
        if problem is not None:
            return ChainProblem(chain, cp.seq, None, problem, where=where)
        previous = cp.signature
    return None


def _verify(chain: AuditChain, horizon: int) -> ChainReport:
    key = chain.key
    checkpoints = checkpoints_of(chain=key)
    by_seq = {cp.seq: cp for cp in checkpoints}
    count = 0
    anchor = by_seq.get(horizon)
    if anchor is None and horizon:
        anchor = next((cp for cp in checkpoints if cp.seq > horizon), None)

    def broken(event: AuditEvent | None, seq: int | None, reason: str, where: str = "") -> ChainReport:
        problem = ChainProblem(key, seq, event.id if event is not None else None, reason, where)
        return ChainReport(key, count, chain.last_hash, problem, horizon, anchor, len(checkpoints))

    problem = _checkpoint_chain_problem(key, checkpoints)
    if problem is not None:
        return ChainReport(key, 0, chain.last_hash, problem, horizon, anchor, len(checkpoints))
    if horizon and anchor is None:
        return broken(None, horizon, f"events up to #{horizon} were pruned but no signed checkpoint covers them")
    expected_seq = horizon + 1
    # At an exact checkpoint, the first kept event links to its signed hash; in the middle of
    # a segment (a purge still running), the next checkpoint vouches for the events up to it.
    expected_prev: str | None = GENESIS
    if anchor is not None:
        expected_prev = anchor.event_hash if anchor.seq == horizon else None

    for event in _events(key):
        count += 1
        if event.seq > chain.last_seq:
            # Written after the head was read, or slipped in behind the application's
            # back: only a fresh head can tell (writers update both in one transaction).
            chain.refresh_from_db(fields=["last_seq", "last_hash"])
            if event.seq > chain.last_seq:
                return broken(event, event.seq, f"is beyond the chain head (#{chain.last_seq}) (row inserted?)")
        if event.seq < expected_seq:
            return broken(event, event.seq, f"should not exist: events up to #{horizon} were pruned (row inserted?)")
        reason = link_problem(event, expected_seq=expected_seq, expected_prev=expected_prev)
        if reason is not None:
            return broken(event, event.seq, reason)
        signed = by_seq.get(event.seq)
        if signed is not None and signed.event_hash != event.hash:
            return broken(event, event.seq, "differs from the signed checkpoint at this event (history rewritten)")
        if event.action == actions.AUDIT_CHECKPOINT_SIGNED:
            named = by_seq.get(int(event.metadata.get("seq") or 0))
            if named is None or named.signature != event.metadata.get("signature"):
                return broken(
                    event,
                    event.seq,
                    f"records a checkpoint at #{event.metadata.get('seq')} that is missing or different "
                    f"(checkpoint removed?)",
                )
        expected_prev = event.hash
        expected_seq += 1
    last = expected_seq - 1
    if chain.last_seq != last:
        return broken(
            None,
            expected_seq,
            f"is missing: the head says {chain.last_seq} events but the chain ends at #{last} (tail deleted?)",
        )
    if expected_prev is not None and chain.last_hash != expected_prev:
        return broken(None, None, "the head's hash does not match the last event (head or tail altered)")
    if checkpoints and checkpoints[-1].seq > last:
        cp = checkpoints[-1]
        return broken(None, cp.seq, "names an event after the end of the chain", where=f"checkpoint #{cp.seq}")
    return ChainReport(key, count, chain.last_hash, None, horizon, anchor, len(checkpoints))


def audit_events_for_workspace(*, workspace: object) -> QuerySet[AuditEvent]:
    return AuditEvent.unscoped.filter(workspace_id=getattr(workspace, "pk", workspace))


def audit_checkpoints_for_workspace(*, workspace: object) -> QuerySet[AuditCheckpoint]:
    """The workspace chain's signed checkpoints, oldest first (what an exported segment
    that starts after pruned events is verified from)."""
    return AuditCheckpoint.unscoped.filter(workspace_id=getattr(workspace, "pk", workspace)).order_by("seq")
