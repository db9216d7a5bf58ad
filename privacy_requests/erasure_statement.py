"""The erasure statement: what was erased, what was kept, why and until when, in
words for the person (and as data for the desk). Built from what the first run of
the plan found (``progress["decided"]``); it holds none of the person's values."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Workspace
from audit.models import AuditEvent
from kernel.privacy.registry import SECURITY_LOGS, Basis, declaration_for
from privacy_requests.models import ErasurePlan

KEY_NOTE = (
    "Your personal data key was destroyed (crypto-shredding): anything of yours still encrypted under it, "
    "including in backups, can no longer be read by anyone."
)


def _span(days: int) -> str:
    years, rest = divmod(days, 365)
    return f"{years} year" + ("s" if years != 1 else "") if years and not rest else f"{days} days"


AUDIT_PLAN_NOTE = (
    "untouched (append-only, so its chain still verifies); it keeps who did what and when, including the IP "
    f"address and browser of whoever used the person's pages (security logs, at least {_span(SECURITY_LOGS.days)})"
)


def audit_note() -> str:
    """What the audit trail keeps, from the registry's declaration of it
    (audit/personal_data.py): who did what and when, and the IP address and browser
    of whoever used the person's pages — security logs, append-only, never erased."""
    decl = declaration_for(AuditEvent)
    pd = decl.fields.get("ip") if decl is not None else None
    retention = pd.retention if pd is not None else SECURITY_LOGS
    basis = Basis(pd.basis).label.lower() if pd is not None else "a legal obligation"
    law = pd.keep_law if pd is not None and pd.keep_law else retention.source
    span = _span(retention.days)
    return (
        "The audit trail is unchanged: it keeps a record of who did what and when, including the IP address "
        "and browser of whoever used your pages (such as the payment page). The law requires us to keep these "
        f"security logs for at least {span} after each event ({basis}: {law}), and the audit trail cannot be "
        "altered, so erasure does not remove them."
    )


def _erased(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        if e["action"] != "keep" and e["to_change"]:
            out.append({"record": e["record"], "field": e["label"], "how": e["how"], "rows": e["to_change"]})
    return out


def _kept(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        if e["action"] == "keep" and e["with_value"] and e["category"] != "search index":
            out.append(
                {
                    "record": e["record"],
                    "field": e["label"],
                    "rows": e["with_value"],
                    "why": e["reason"],
                    "law": e["law"],
                    "until": e["until"],
                    "routine": e["routine"],
                }
            )
    return out


def _until(text: str) -> str:
    return f"until {text}" if text else ""


def statement_build(*, plan: ErasurePlan, workspace: Workspace) -> dict[str, Any]:
    """The statement of an executed plan (``plan.statement``): ``outcome`` is
    ``fulfilled`` when nothing was kept beyond what every erasure keeps (the books,
    the consent ledger, the request's own record), else ``partly_fulfilled``."""
    decided: dict[str, Any] = plan.progress.get("decided", {})
    steps: dict[str, Any] = plan.progress.get("steps", {})
    entries: list[dict[str, Any]] = decided.get("entries", [])
    erased, kept = _erased(entries), _kept(entries)
    holds: list[dict[str, Any]] = decided.get("holds", [])
    books: dict[str, Any] = decided.get("books", {})
    outcome = "partly_fulfilled" if holds or any(not k["routine"] for k in kept) else "fulfilled"
    reference = plan.request.reference if plan.request else ""
    shredded = bool(steps.get("shred", {}).get("shredded")) or bool(decided.get("key", {}).get("already_shredded"))
    today = timezone.localdate()

    lines = [
        f"{workspace.name}: erasure statement" + (f" for request {reference}" if reference else ""),
        f"Date: {today:%Y-%m-%d}",
        "",
        "What we erased",
    ]
    lines += [f"- {e['record']}, {e['field'].lower()}: {e['how']} ({e['rows']})" for e in erased] or [
        "- Nothing was left to erase."
    ]
    if shredded:
        lines.append(f"- {KEY_NOTE}")
    lines += ["", "What we kept, why and until when"]
    for hold in holds:
        lines.append(
            f"- {hold['reason'][0].upper()}{hold['reason'][1:]}: its records, and who you are and how to reach "
            f"you, are kept {_until(hold['until'])} ({hold['law']}); they are erased when that ends."
        )
    for k in kept:
        if k["why"].startswith("debt ") or k["why"].startswith("who the person is"):
            continue  # said once per hold above
        law = f"; {k['law']}" if k["law"] else ""
        until = f"; {_until(k['until'])}" if k["until"] else ""
        lines.append(f"- {k['record']}, {k['field'].lower()} ({k['rows']}): {k['why']}{law}{until}")
    if books:
        lines.append(
            f"- The books of {books.get('debts', 0)} debts ({books.get('ledger_entries', 0)} ledger entries): "
            f"{books.get('kept', '')}; {books.get('law', '')}"
            + (f"; until {books['until']}" if books.get("until") else "")
        )
    audit = audit_note()
    lines.append(f"- {audit}")
    pseudonym = decided.get("pseudonym", "")
    if any(e["how"].startswith("replaced by the pseudonym") for e in erased):
        lines += ["", f"In our records you now appear as “{pseudonym}”."]
    kept_kinds = len(holds) + sum(1 for k in kept if not k["routine"] and not k["why"].startswith(("debt ", "who ")))
    summary = (
        f"Erased {sum(e['rows'] for e in erased)} values in {len({e['record'] for e in erased})} kinds of records"
        + ("; the data key was destroyed" if shredded else "")
        + (
            f". Kept under the law: {kept_kinds} items"
            + (
                " (" + "; ".join(f"debt {h['reference']}: {h['kind'].replace('_', ' ')}" for h in holds) + ")"
                if holds
                else ""
            )
            if outcome == "partly_fulfilled"
            else ". Only the books and the records every erasure keeps were kept"
        )
        + ". Statement: see the erasure plan."
    )[:500]
    return {
        "reference": reference,
        "date": today.isoformat(),
        "outcome": outcome,
        "pseudonym": pseudonym,
        "erased": erased,
        "kept": kept,
        "holds": holds,
        "books": books,
        "key": KEY_NOTE if shredded else "",
        "audit": audit,
        "subject": f"{workspace.name}: what we erased and what we kept"
        + (f" (request {reference})" if reference else ""),
        "summary": summary,
        "text": "\n".join(lines) + "\n",
    }


def plan_text(summary: dict[str, Any]) -> str:
    """A plan (``ErasurePlan.plan`` or ``erasure_preview``) as lines of text: one per
    model, field and decision, then the holds, the books and the key."""
    lines = [f"Erasure plan for debtor {summary.get('debtor', '')} (to appear as “{summary.get('pseudonym', '')}”)"]
    width = max((len(f"{e['model']}.{e['field']}") for e in summary.get("entries", [])), default=10)
    for e in summary.get("entries", []):
        until = f" until {e['until']}" if e["until"] else ""
        law = f" [{e['law']}]" if e["law"] else ""
        lines.append(
            f"  {e['model'] + '.' + e['field']:<{width}}  {e['action']:<12} {e['to_change']:>3}/{e['rows']:<3} "
            f"{e['how']}; {e['reason']}{law}{until}"
        )
    for label, count in summary.get("rows_deleted", {}).items():
        lines.append(f"  rows deleted: {label} × {count}")
    for hold in summary.get("holds", []):
        lines.append(f"  hold: {hold['reason']}: kept until {hold['until']} [{hold['law']}]")
    books = summary.get("books", {})
    if books:
        lines.append(
            f"  books: {books.get('debts', 0)} debts, {books.get('ledger_entries', 0)} ledger entries kept"
            + (f" until {books['until']}" if books.get("until") else "")
            + f" [{books.get('law', '')}]"
        )
    key = summary.get("key", {})
    lines.append(
        "  data key: "
        + ("shredded at the end" if key.get("shred") else "already shredded" if key.get("already_shredded") else "none")
        + f"; retention key: {key.get('retention_key', 'none')}"
    )
    if summary.get("restrict_processing"):
        lines.append("  processing restricted: what a hold keeps is used for that hold only")
    for extra, label in (("active_links", "payment links revoked"), ("export_files", "copies of the data deleted")):
        if summary.get(extra):
            lines.append(f"  {label}: {summary[extra]}")
    # Not the stored ``audit_chain`` text: plans made before it was corrected claimed
    # that the trail holds no personal data.
    lines.append(f"  audit trail: {AUDIT_PLAN_NOTE}")
    if summary.get("unhandled"):
        lines.append("  NOT HANDLED (erasure refuses to run): " + ", ".join(summary["unhandled"]))
    counts = summary.get("counts", {})
    lines.append(
        f"  to change: {counts.get('to_change', 0)} values; delete {counts.get('delete', 0)}, "
        f"pseudonymise {counts.get('pseudonymise', 0)}, keep {counts.get('keep', 0)} (rows × fields)"
    )
    return "\n".join(lines)
