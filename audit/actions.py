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

ALL = sorted(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
