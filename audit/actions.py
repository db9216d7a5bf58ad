"""Every audit action name in one place (so the audit page can filter on them)."""

from kernel import audit_port

LOGIN = "auth.login"
LOGOUT = "auth.logout"
LOGIN_FAILED = "auth.login_failed"
LOCKOUT = "auth.lockout"
PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105  (an action name)
PASSWORD_RESET = "auth.password_reset"  # noqa: S105  (an action name)
MFA_ADDED = "mfa.authenticator_added"
MFA_REMOVED = "mfa.authenticator_removed"
MFA_RECOVERY_CODES_RESET = "mfa.recovery_codes_reset"
SESSIONS_SIGNED_OUT = "auth.sessions_signed_out"
USER_ACCOUNT_DELETED = "user.account_deleted"  # the account pseudonymised, its logins and sessions gone

WORKSPACE_CREATED = "workspace.created"
WORKSPACE_SETTINGS_CHANGED = "workspace.settings_changed"
MEMBER_ADDED = "member.added"
MEMBER_ROLE_CHANGED = "member.role_changed"
MEMBER_REMOVED = "member.removed"
INVITATION_CREATED = "invitation.created"
INVITATION_ACCEPTED = "invitation.accepted"
INVITATION_REVOKED = "invitation.revoked"
API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"

PERSONAL_DATA_READ = "personal_data.read"
PERSONAL_DATA_EXPORT = "personal_data.export"
PERSONAL_DATA_DOWNLOAD = "personal_data.download"
AUDIT_EXPORTED = "audit.exported"

COMMUNICATION_LOGGED = "communication.logged"
COMMUNICATION_QUEUED = "communication.queued"

KEYS_ROTATED = "keys.rotated"
SUBJECT_KEY_SHREDDED = audit_port.SUBJECT_KEY_SHREDDED  # written by the kernel through its port

# Rights requests
PRIVACY_REQUEST_RECEIVED = "privacy_request.received"
PRIVACY_REQUEST_STATUS_CHANGED = "privacy_request.status_changed"
PRIVACY_REQUEST_VERIFIED = "privacy_request.verified"
PRIVACY_REQUEST_EXTENDED = "privacy_request.extended"
PRIVACY_REQUEST_CODE_SENT = "privacy_request.code_sent"
PRIVACY_REQUEST_CODE_FAILED = "privacy_request.code_failed"
PRIVACY_REQUEST_CODE_WITHHELD = "privacy_request.code_withheld"  # no one matched, no contact on file, too many
PRIVACY_REQUEST_AUTHORISATION_UPLOADED = "privacy_request.authorisation_uploaded"
PRIVACY_REQUEST_EXPORT_BUILT = "privacy_request.export_built"
PRIVACY_REQUEST_EXPORT_DOWNLOADED = "privacy_request.export_downloaded"
PRIVACY_REQUEST_EXPORT_DELETED = "privacy_request.export_deleted"
PRIVACY_REQUEST_REMINDED = "privacy_request.reminded"
PRIVACY_REQUEST_NOTIFIED = "privacy_request.notified"  # the requester emailed: closed, extended, copy ready
PRIVACY_REQUEST_AUTHORISATION_REVIEWED = "privacy_request.authorisation_reviewed"
PRIVACY_REQUEST_MATCHED = "privacy_request.matched"  # an unmatched request linked to a debtor by hand
PRIVACY_REQUESTS_EXPORTED = "privacy_requests.exported"
PRIVACY_CONTACT_CHANGED = "privacy_contact.changed"
ERASURE_PLANNED = "erasure.planned"
ERASURE_APPROVED = "erasure.approved"
ERASURE_EXECUTED = "erasure.executed"
ERASURE_CLIENT_TOLD = "erasure.client_told"
PERSONAL_DATA_ERASED = "personal_data.erased"  # one app's rows of one person, by an erasure (counts only)
PRIVACY_REQUEST_RECTIFIED = "privacy_request.rectified"
PRIVACY_REQUEST_RECIPIENTS_TOLD = "privacy_request.recipients_told"  # GDPR Art. 19
DEBTOR_RESTRICTION_CHANGED = "debtor.restriction_changed"

# Domain events (debts, ledger, consent, communications, payments, placements…)
CLIENT_CREATED = "client.created"
COMMUNICATION_FAILED = "communication.failed"
COMMUNICATION_WITHHELD = "communication.withheld"
CONTACT_REFUSED = "contact.refused"
DEBTOR_CREATED = "debtor.created"
DEBTOR_MINOR_REVIEWED = "debtor.minor_reviewed"
DEBTOR_UPDATED = "debtor.updated"
DEBTS_EXPORTED = "debts.exported"
DEBT_ASSIGNED = "debt.assigned"
DEBT_CREATED = "debt.created"
DEBT_STATUS_CHANGED = "debt.status_changed"
DISPUTE_OPENED = "dispute.opened"
DISPUTE_RESOLVED = "dispute.resolved"
DOCUMENT_UPLOADED = "document.uploaded"
NOTE_ADDED = "note.added"
OFFER_CREATED = "offer.created"
PAYMENT_LINK_CREATED = "payment_link.created"
PAYMENT_LINK_REVOKED = "payment_link.revoked"
PAYMENT_LINK_VERIFICATION_FAILED = "payment_link.verification_failed"
PAYMENT_LINK_VERIFIED = "payment_link.verified"
PERSONAL_DATA_DISCLOSED = "personal_data.disclosed"
PLACEMENT_IMPORTED = "placement.imported"
PLACEMENT_REJECTS_PURGED = "placement.rejects_purged"
PLACEMENT_UPLOADED = "placement.uploaded"
PLAN_BROKEN = "plan.broken"
PLAN_CREATED = "plan.created"
POLICY_DEBTORS_NOTIFIED = "policy.debtors_notified"
POLICY_PUBLISHED = "policy.published"
PROMISE_CREATED = "promise.created"
RECONCILIATION_EXCEPTION_RESOLVED = "reconciliation.exception_resolved"
RECONCILIATION_RUN = "reconciliation.run"
REMITTANCE_EXPORTED = "remittance.exported"
SEQUENCES_ADVANCED = "sequences.advanced"
STATEMENT_DOWNLOADED = "statement.downloaded"
SUBPROCESSOR_ADDED = "subprocessor.added"
SUBPROCESSOR_CHANGED = "subprocessor.changed"
SUBPROCESSOR_REMOVED = "subprocessor.removed"
WORKSPACE_CONTACT_RULES_CHANGED = "workspace.contact_rules_changed"


# Retention (retention app): periods, holds, purges, workspace closure, audit checkpoints.
AUDIT_CHECKPOINT_SIGNED = "audit.checkpoint_signed"
AUDIT_EVENTS_PRUNED = "audit.events_pruned"
LEGAL_HOLD_LIFTED = "legal_hold.lifted"
LEGAL_HOLD_PLACED = "legal_hold.placed"
LEGAL_HOLD_REVIEWED = "legal_hold.reviewed"
RETENTION_NOTICE_SENT = "retention.notice_sent"
RETENTION_PERIOD_CHANGED = "retention.period_changed"
RETENTION_PURGE_FINISHED = "retention.purge_finished"
RETENTION_PURGE_STARTED = "retention.purge_started"
WORKSPACE_CLOSED = "workspace.closed"
WORKSPACE_CLOSURE_CANCELLED = "workspace.closure_cancelled"
WORKSPACE_EXPORTED = "workspace.exported"
WORKSPACE_PURGED = "workspace.purged"
RETENTION_HOLDS_EXPORTED = "retention.holds_exported"
# Incidents (issue 14): the breach register, its clocks, notices and security alerts.
INCIDENT_CREATED = "incident.created"
INCIDENT_DUTY_DECIDED = "incident.duty_decided"
INCIDENT_DUTY_DONE = "incident.duty_done"
INCIDENT_STATUS_CHANGED = "incident.status_changed"
INCIDENT_UPDATED = "incident.updated"
ALERT_RAISED, ALERT_DISMISSED, ALERT_TO_INCIDENT = "alert.raised", "alert.dismissed", "alert.to_incident"
INCIDENT_NOTIFIED = "incident.notified"  # notices to the people started / a batch handed over; a client told
INCIDENT_AFFECTED_FROZEN = "incident.affected_frozen"  # the finder's people frozen on the incident (counts only)
INCIDENT_REMINDED = "incident.reminded"  # a duty's deadline nears or passed: who must act was emailed
INCIDENTS_EXPORTED = "incidents.exported"  # the register as CSV (references, statuses, dates)


def ledger(kind: str) -> str:
    """The action of a ledger entry of ``kind`` (charge, payment, adjustment…)."""
    return f"ledger.{kind}"


def consent_change(action: str) -> str:
    """The action of a consent record (grant, withdraw)."""
    return f"consent.{action}"


ALL = sorted(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
