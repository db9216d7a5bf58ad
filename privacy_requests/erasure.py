"""Erasure: a plan first (dry run), approval, then an idempotent, resumable
execution and a statement (owned by the erasure work; interface fixed).

- ``erasure_plan(*, workspace, debtor, request=None, actor=None, reason="") -> ErasurePlan``
- ``erasure_approve(*, plan, actor) -> ErasurePlan``
- ``erasure_queue(*, plan)``: run ``erasure_execute`` on a worker (erasure_tasks.py)
- ``erasure_execute(*, plan) -> ErasurePlan``: does only what is left; running it
  again changes nothing.
"""
