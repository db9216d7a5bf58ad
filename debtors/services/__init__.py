"""Writes for the debtors app. Import from the submodules:

- debtors: debtor_create, debtor_update
- debts: debt_create, debt_change_status, debt_assign
- ledger: payment_record, adjustment_post, entry_reverse, refund_post, …
- status: debt_event, the row lock and status transitions the others build on
- plans / promises / offers / disputes / notes / documents / communications
"""
