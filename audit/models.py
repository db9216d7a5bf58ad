from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from kernel.tenancy.context import _workspace

GLOBAL_CHAIN = "global"


def chain_key(workspace_id: int | None) -> str:
    return f"ws:{workspace_id}" if workspace_id is not None else GLOBAL_CHAIN


class AuditScopedManager(models.Manager["AuditEvent"]):
    """Audit rows of the current workspace; with no workspace in context, the
    global chain (security events of no particular workspace)."""

    def get_queryset(self) -> models.QuerySet[AuditEvent]:
        ws = _workspace.get()
        qs = super().get_queryset()
        return qs.filter(workspace_id=ws.pk) if ws is not None else qs.filter(workspace__isnull=True)


class AuditChain(models.Model):
    """The head of one hash chain: the last sequence number and hash.

    Writers lock this row (SELECT … FOR UPDATE) so events of one workspace are
    appended strictly one after another and the chain never forks."""

    key = models.CharField(max_length=40, unique=True)
    workspace = models.OneToOneField(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    rls_tenant: ClassVar[bool] = True

    def __str__(self) -> str:
        return f"{self.key} @ {self.last_seq}"


class AuditEvent(models.Model):
    """One append-only entry. ``hash`` = SHA-256 over the canonical content and the
    previous event's hash. Holds ids and enums only — never plaintext personal data —
    so erasing a debtor never breaks verification. Actor ids are plain integers, not
    foreign keys, so deleting a user cannot rewrite history."""

    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=64)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_api_key_id = models.CharField(max_length=36, blank=True, default="")
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=16, default="system")
    metadata = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects: ClassVar[AuditScopedManager] = AuditScopedManager()
    unscoped: ClassVar[models.Manager[AuditEvent]] = models.Manager()

    rls_tenant: ClassVar[bool] = True
    # The application may add events but never change or remove them…
    rls_append_only: ClassVar[bool] = True
    # …except through the prune function (kernel.tenancy.rls): only events older than a
    # year (the DPDP floor for processing logs) and covered by a signed checkpoint of
    # their own chain, so the part that is kept still verifies (ADR 0016).
    rls_prune_column: ClassVar[str] = "created_at"
    rls_prune_min_days: ClassVar[int] = 365
    rls_prune_guard: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM audit_auditcheckpoint c WHERE c.chain = t.chain AND c.seq >= t.seq)"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq")]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["workspace", "action", "-created_at"]),
            models.Index(fields=["workspace", "actor_user_id", "-created_at"]),
            models.Index(fields=["workspace", "object_type", "object_id"]),
        ]
        ordering = ["-created_at", "-seq"]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"

    def content(self) -> dict[str, Any]:
        """Exactly what the hash covers."""
        return {
            "chain": self.chain,
            "seq": self.seq,
            "workspace_id": self.workspace_id,
            "created_at": self.created_at.isoformat(),
            "action": self.action,
            "actor_user_id": self.actor_user_id,
            "actor_api_key_id": self.actor_api_key_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "ip": str(self.ip) if self.ip is not None else None,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "source": self.source,
            "metadata": self.metadata,
            "prev_hash": self.prev_hash,
        }


class AuditCheckpointManager(models.Manager["AuditCheckpoint"]):
    """Checkpoints of the current workspace's chain; with none in context, the global chain's."""

    def get_queryset(self) -> models.QuerySet[AuditCheckpoint]:
        ws = _workspace.get()
        qs = super().get_queryset()
        return qs.filter(workspace_id=ws.pk) if ws is not None else qs.filter(workspace__isnull=True)


class AuditCheckpoint(models.Model):
    """A signed statement "event ``seq`` of ``chain`` had hash ``event_hash``", made
    after the events since the previous checkpoint were re-verified. Events up to a
    checkpoint may be pruned; the kept part of the chain starts from it (ADR 0016).

    ``signature`` (Ed25519, key ``key_id`` from ``AUDIT_CHECKPOINT_KEY``) covers every
    field but the id, including the previous checkpoint's signature, so the
    checkpoints form their own chain: one cannot be forged, changed or left out
    without the key. Append-only like the events."""

    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=40)
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    seq = models.BigIntegerField(help_text="The last event this checkpoint covers")
    event_hash = models.CharField(max_length=64, help_text="That event's hash")
    event_created_at = models.DateTimeField(help_text="That event's time")
    first_seq = models.BigIntegerField(help_text="The oldest event still kept when this was signed")
    signed_at = models.DateTimeField(default=timezone.now)
    key_id = models.CharField(max_length=32)
    previous_signature = models.CharField(max_length=128, blank=True, default="")
    signature = models.CharField(max_length=128)

    objects: ClassVar[AuditCheckpointManager] = AuditCheckpointManager()
    unscoped: ClassVar[models.Manager[AuditCheckpoint]] = models.Manager()

    rls_tenant: ClassVar[bool] = True
    rls_append_only: ClassVar[bool] = True

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_checkpoint_chain_seq")]
        ordering = ["chain", "seq"]

    def __str__(self) -> str:
        return f"{self.chain} checkpoint @ {self.seq}"

    def content(self) -> dict[str, Any]:
        """Exactly what the signature covers."""
        return {
            "v": 1,
            "chain": self.chain,
            "seq": self.seq,
            "event_hash": self.event_hash,
            "event_created_at": self.event_created_at.isoformat(),
            "first_seq": self.first_seq,
            "signed_at": self.signed_at.isoformat(),
            "key_id": self.key_id,
            "previous_signature": self.previous_signature,
        }
