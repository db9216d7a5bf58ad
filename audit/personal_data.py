from audit.models import AuditCheckpoint, AuditEvent
from kernel.privacy.registry import PD, SECURITY_LOGS, Basis, Category, Erasure, declare, declare_not_personal

declare(
    AuditEvent,
    subject_type="user",
    subject="actor_user_id",
    purpose="Security and accountability (audit trail)",
    fields={
        "ip": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            SECURITY_LOGS,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 5(2) accountability; DPDP Rules r.8(3)",
        ),
        "user_agent": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            SECURITY_LOGS,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 5(2) accountability; DPDP Rules r.8(3)",
        ),
    },
)

declare_not_personal(
    AuditCheckpoint,
    signature="a cryptographic signature by CollectPro's checkpoint key, not a person's",
    previous_signature="the previous checkpoint's signature by CollectPro's key, not a person's",
)
