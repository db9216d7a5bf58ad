"""Restriction, objection, withdrawal of consent and rectification (owned by the
erasure work; interface fixed):

- ``restriction_apply(*, request, actor)``, ``objection_apply(*, request, actor)``,
  ``withdrawal_apply(*, request, actor, purposes=None)``: recorded in the consent
  ledger and honoured by the contact rules at once.
- ``rectification_apply(*, request, changes, actor)``: through the domain services;
  recipients it was disclosed to are told (GDPR Art. 19).
"""
