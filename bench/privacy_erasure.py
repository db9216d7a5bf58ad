"""Erasure of one debtor in a workspace of 1,000,000 debts, against deleting and
updating the same rows with plain SQL in the same run.

Issue requirement: "erasure of one debtor among 1,000,000 debts: at most 2 s of work
on the 2-core machine; report the ratio to deleting the same rows with plain SQL in
the same run".

* Data: the workspace of ``bench/seed_million.py`` (1,000,000 debts, 20,000 debtors:
  about 50 debts and their ledgers per debtor; ``--quick``: its 50,000-debt one),
  reused if it is seeded, seeded if not (minutes). ``python -m bench.privacy_erasure
  --debts N`` measures on a workspace of N debts instead (seeded the same way, once per
  N, shared with ``bench.privacy``), printing only: for a small database.
* Everything happens in one transaction that is rolled back at the end, so the seeded
  workspace (shared with the other benchmarks) is left as it was: each erasure step's
  own transaction is a savepoint here, and no step waits for a commit's fsync (neither
  does the baseline). Files go to a temporary directory; emails to memory.
* Each repeat takes two debtors of the seed that were never erased (debtor 4242, which
  the API benchmark searches for, is left alone) and gives each, through the services,
  what a person collects over time: 3 notes, a document, 3 messages, a further email,
  a resolved dispute, a consent record and a payment link (not timed).
* Baseline: for one of them, the plain SQL that erasure boils down to, in one
  transaction: DELETE their notes, documents (and the files) and further contacts;
  UPDATE their messages' content, the dispute's resolution, their identity columns
  and blind indexes, their payment links and their data key.
* CollectPro: for the other, ``erasure_plan`` (the registry-driven dry run) +
  ``erasure_approve`` (as an operator) + ``erasure_execute`` (every step: re-seal what
  is kept, erase through each app's service, revoke links, shred the key, close,
  build the statement, tell the client), in-process as ``manage.py erase_subject``
  runs it. Timed separately: the plan alone.
* Reported: erasures per second (1 / seconds per erasure) of each, the median over the
  repeats, and the ratio to the baseline; the notes give the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from io import BytesIO
from typing import Any

from bench import Row
from bench import seed_million as seeding

VENDORS = ("postgresql",)
RUN_MODE = (
    "two debtors per repeat (median of 5; --quick: 3): one erased, one by plain SQL on the same rows; rolled back"
)
SKIP_DEBTOR = 4242  # searched for by bench/api_list.py: never erased here
REPEATS = 5
QUICK_REPEATS = 3
TARGET_SECONDS = 2.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"bench-document-bytes" * 50


class _Rollback(Exception):
    pass


def _fresh_debtors(workspace: Any, count: int) -> list[Any]:
    """Debtors of the seed not erased yet (newest first), skipping the searched one."""
    from debtors.models import Debtor
    from kernel.crypto.blind_index import blind_index
    from kernel.models import SubjectKey

    skip = blind_index(workspace.pk, "email", seeding.debtor_email(SKIP_DEBTOR), "email")
    shredded = SubjectKey.objects.for_workspace(workspace).filter(subject_type="debtor", shredded_at__isnull=False)
    qs = (
        Debtor.objects.for_workspace(workspace)
        .exclude(email_bidx__in=["", skip])
        .exclude(pk__in=[s for s in shredded.values_list("subject_id", flat=True)])
        .order_by("-created_at", "-pk")
    )
    found = list(qs[:count])
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} debtors left to erase in {workspace.slug}: seed a new workspace")
    return found


def _furnish(workspace: Any, debtor: Any) -> None:
    """What a person collects over time, through the services (not timed)."""
    from communications.log import communication_log
    from consent.models import ConsentAction, ConsentSource, Purpose
    from consent.services import consent_record
    from debtors.models import ContactKind, Debt, DebtorContact
    from debtors.services.disputes import dispute_open, dispute_resolve
    from debtors.services.records import document_upload, note_add
    from payments.services import payment_link_create

    collectable = ("new", "active", "promise", "payment_plan")
    debts = sorted(
        Debt.objects.for_workspace(workspace).filter(debtor=debtor),
        key=lambda d: (d.status not in collectable, d.created_at),
    )
    first = debts[0]
    for i in range(3):
        note_add(debt=first, body=f"Spoke to the debtor (call {i}); will pay after the 10th.")
        communication_log(debt=first, channel="email", direction="inbound", content=f"Message {i}", check_rules=False)
    document_upload(debt=first, upload=BytesIO(PNG), file_name="statement.png")
    DebtorContact(workspace=workspace, debtor=debtor, kind=ContactKind.EMAIL, value="other@bench.example.in").save(
        force_insert=True
    )
    dispute = dispute_open(debt=first, reason="wrong_amount", details="The interest is wrong.")
    dispute_resolve(dispute=dispute, upheld=False, resolution="Verified against the statement.")
    consent_record(
        workspace=workspace,
        subject_type="debtor",
        subject_id=str(debtor.pk),
        purpose=Purpose.CONTACT_SMS,
        action=ConsentAction.GRANT,
        source=ConsentSource.DEBTOR_PAGE,
    )
    if first.status in collectable:
        payment_link_create(debt=first)


def _plain_sql(workspace: Any, debtor: Any) -> None:
    """The same rows erasure deletes or changes, by plain SQL in one transaction."""
    from django.core.files.storage import default_storage
    from django.db import connection, transaction

    from communications.models import Communication
    from debtors.models import Debtor, DebtorContact, Dispute, Document, Note
    from kernel.models import SubjectKey
    from payments.models import PaymentLink

    q = connection.ops.quote_name

    def t(model: Any) -> str:
        return q(model._meta.db_table)

    ws, who = workspace.pk, str(debtor.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT storage_name FROM {t(Document)} WHERE workspace_id = %s AND debtor_id = %s", [ws, who])
        for (name,) in cursor.fetchall():
            default_storage.delete(name)
        for model in (Note, Document, DebtorContact):
            cursor.execute(f"DELETE FROM {t(model)} WHERE workspace_id = %s AND debtor_id = %s", [ws, who])
        cursor.execute(
            f"UPDATE {t(Communication)} SET content = NULL WHERE workspace_id = %s AND debtor_id = %s",
            [ws, who],
        )
        cursor.execute(
            f"UPDATE {t(Dispute)} SET resolution = %s WHERE workspace_id = %s AND debtor_id = %s",
            ["Verified against the statement.", ws, who],
        )
        cursor.execute(
            f"UPDATE {t(Debtor)} SET full_name = %s, full_name_bidx = '', email = NULL, email_bidx = '', "
            "phone = NULL, phone_bidx = '', address = NULL, date_of_birth = NULL, national_id = NULL, "
            "national_id_bidx = '', external_ref = '', preferred_language = '', timezone = '' "
            "WHERE workspace_id = %s AND id = %s",
            ["Erased person", ws, who],
        )
        cursor.execute(
            f"UPDATE {t(PaymentLink)} SET status = 'revoked', revoked_at = now() "
            "WHERE workspace_id = %s AND debtor_id = %s AND status = 'active'",
            [ws, who],
        )
        cursor.execute(
            f"UPDATE {t(SubjectKey)} SET wrapped_key = NULL, shredded_at = now() "
            "WHERE workspace_id = %s AND subject_type = 'debtor' AND subject_id = %s",
            [ws, who],
        )


def _collectpro(workspace: Any, debtor: Any) -> tuple[float, float]:
    """(seconds for the plan alone, seconds for plan + approve + execute)."""
    from kernel.tenancy import workspace_context
    from privacy_requests.erasure import erasure_approve, erasure_execute, erasure_plan, erasure_preview

    with workspace_context(workspace):
        started = time.perf_counter()
        erasure_preview(workspace=workspace, debtor=debtor)
        plan_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with workspace_context(workspace):
        plan = erasure_plan(workspace=workspace, debtor=debtor, reason="benchmark")
        plan = erasure_approve(plan=plan, actor=None, operator=True, reason="benchmark")
    erasure_execute(plan=plan)
    return plan_seconds, time.perf_counter() - started


def measure(seeded: seeding.Seeded, repeats: int) -> list[Row]:
    import tempfile

    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings

    from kernel.context import request_info
    from kernel.tenancy import workspace_context

    workspace = seeded.workspace
    base_s: list[float] = []
    plan_s: list[float] = []
    full_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-erasure-") as storage_dir:
        storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": storage_dir}}
        with (
            override_settings(
                STORAGES={**settings.STORAGES, "default": storage},
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # nothing leaves the machine
            ),
            request_info(source="cli"),
        ):
            try:
                with transaction.atomic():
                    with workspace_context(workspace):
                        people = _fresh_debtors(workspace, 2 * (repeats + 1))
                        for debtor in people:
                            _furnish(workspace, debtor)
                    # One untimed round of each warms the caches (keys, imports, query plans).
                    _plain_sql(workspace, people[0])
                    _collectpro(workspace, people[1])
                    for i in range(1, repeats + 1):
                        plain, ours = people[2 * i], people[2 * i + 1]
                        if i % 2:  # alternate which goes first
                            started = time.perf_counter()
                            _plain_sql(workspace, plain)
                            base_s.append(time.perf_counter() - started)
                            p, f = _collectpro(workspace, ours)
                        else:
                            p, f = _collectpro(workspace, ours)
                            started = time.perf_counter()
                            _plain_sql(workspace, plain)
                            base_s.append(time.perf_counter() - started)
                        plan_s.append(p)
                        full_s.append(f)
                    raise _Rollback
            except _Rollback:
                pass
    base, plan, full = statistics.median(base_s), statistics.median(plan_s), statistics.median(full_s)
    ratios_plan = [b / p for b, p in zip(base_s, plan_s, strict=True)]
    ratios_full = [b / f for b, f in zip(base_s, full_s, strict=True)]
    met = "met" if full <= TARGET_SECONDS else "NOT met"
    where = f"{seeded.scale.debts:,} debts, {seeded.scale.debtors:,} debtors in the workspace"
    return [
        Row(
            "baseline: plain SQL DELETE/UPDATE of the same rows, one transaction",
            1 / base,
            "erasures/s",
            1 / base,
            1.0,
            f"{base * 1000:.1f} ms; {where}",
        ),
        Row(
            "erasure_preview: the plan from the registry (dry run)",
            1 / plan,
            "erasures/s",
            1 / base,
            statistics.median(ratios_plan),
            f"{plan * 1000:.0f} ms (max {max(plan_s) * 1000:.0f} ms)",
        ),
        Row(
            "erasure of one debtor: plan + approve + execute (every step)",
            1 / full,
            "erasures/s",
            1 / base,
            statistics.median(ratios_full),
            f"{full:.2f} s of work (max {max(full_s):.2f} s); target ≤ {TARGET_SECONDS:.0f} s {met}; "
            f"ratio {min(ratios_full):.3g}–{max(ratios_full):.3g} over {repeats} repeats",
        ),
    ]


def run(quick: bool) -> list[Row]:
    return measure(seeding.ensure(seeding.scale_for(quick)), QUICK_REPEATS if quick else REPEATS)


def main(argv: list[str]) -> int:
    """``python -m bench.privacy_erasure --debts N``: the same measurement on a workspace
    of N debts (seeded once by seed_million, then reused). Printed, never written."""
    parser = argparse.ArgumentParser(prog="python -m bench.privacy_erasure", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debts", type=int, default=5_000, help="debts in the workspace (50 per debtor)")
    parser.add_argument("--repeats", type=int, default=QUICK_REPEATS)
    parser.add_argument("--any-database", action="store_true", help='allow a DATABASE_URL whose name lacks "bench"')
    args = parser.parse_args(argv)
    if args.debts < 50:
        parser.error("--debts must be at least 50")

    from bench.__main__ import configure_environment, describe_database, print_table, setup_django

    if configure_environment(args) is not None:
        sys.exit(
            "bench.privacy_erasure seeds with PostgreSQL-only SQL: set DATABASE_URL to a PostgreSQL *bench* database."
        )
    setup_django(None)
    _vendor, database = describe_database(throwaway=False)
    print(f"database: {database}")
    label = f"{args.debts // 1000}k" if args.debts % 1000 == 0 else str(args.debts)
    seeded = seeding.ensure(seeding.Scale(label, args.debts, max(1, args.debts // 50)))
    started = time.perf_counter()
    rows = measure(seeded, args.repeats)
    print_table(f"privacy_erasure on {args.debts:,} debts ({time.perf_counter() - started:.1f} s)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
