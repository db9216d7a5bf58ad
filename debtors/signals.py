"""Signals the debtors app sends for the apps above it (which connect in ``ready()``)."""

from django.dispatch import Signal

# Sent after the transaction that posted a ledger entry commits, with
# ``workspace_id``: money moved, so figures computed from the ledger are stale.
ledger_changed = Signal()
