"""A placement file's header: which of our columns each of the file's columns is.

A creditor's file may name columns its own way; ``header_map`` ({our column: their
column}) says how, and the header is checked against it before any row is read, so
a file that cannot be imported fails at once with every problem named."""

from __future__ import annotations

import csv
import io
import re
from typing import IO, Any

from django.core.exceptions import ValidationError

COLUMNS = (
    "external_ref",
    "full_name",
    "email",
    "phone",
    "address",
    "date_of_birth",
    "national_id",
    "debt_reference",
    "amount",
    "currency",
    "due_date",
    "client_ref",
)
REQUIRED = ("full_name", "debt_reference", "amount")
HEADER_MAX_BYTES = 64 * 1024


def clean_header_map(header_map: dict[str, Any] | None) -> dict[str, str]:
    """{our column: their column}, checked: unknown targets are an error, not ignored."""
    if not header_map:
        return {}
    if not isinstance(header_map, dict):
        raise ValidationError({"header_map": "Give the mapping as {our_column: your_column}."})
    unknown = sorted(str(k) for k in header_map if k not in COLUMNS)
    if unknown:
        raise ValidationError(
            {"header_map": f"Unknown column(s) {', '.join(unknown)}; the columns are: {', '.join(COLUMNS)}."}
        )
    cleaned: dict[str, str] = {}
    for ours, theirs in header_map.items():
        if not isinstance(theirs, str) or not theirs.strip():
            raise ValidationError({"header_map": f"Name the file's column for {ours}."})
        cleaned[ours] = theirs.strip()
    return cleaned


def parse_header_map(text: str | None, *, one_per_line: bool = False) -> dict[str, str]:
    """``external_ref=Customer No,amount=Balance`` (the command's ``--map``) or one
    pair per line (``one_per_line``: the upload page, where a column name may hold
    a comma) → {our column: their column}; a malformed pair is a ValidationError
    naming it."""
    mapping: dict[str, str] = {}
    for part in re.split(r"\n" if one_per_line else r"[,\n]", text or ""):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValidationError({"header_map": f"Write our_column=your_column (got {part.strip()!r})."})
        mapping[ours.strip()] = theirs.strip()
    return mapping


def header_positions(header: list[str], header_map: dict[str, str], *, has_client: bool) -> dict[str, int]:
    """Our column → its position in the file, or a ValidationError naming every problem."""
    found: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.strip().casefold()
        if not key:
            continue
        if key in found:
            raise ValidationError({"file": f"The header names the column {name.strip()!r} twice."})
        found[key] = position
    positions: dict[str, int] = {}
    problems: list[str] = []
    for column in COLUMNS:
        theirs = header_map.get(column, column)
        at = found.get(theirs.casefold())
        if at is not None:
            positions[column] = at
        elif column in header_map:
            problems.append(f"the mapped column {theirs!r} (for {column}) is not in the file")
    missing = [c for c in REQUIRED if c not in positions]
    if not has_client and "client_ref" not in positions:
        missing.append("client_ref (or choose a client for the whole file)")
    if missing:
        problems.insert(0, "missing required column(s): " + ", ".join(missing))
    if problems:
        shown = ", ".join(h.strip() for h in header if h.strip())[:300]
        raise ValidationError(
            {"file": f"The header is not usable: {'; '.join(problems)}. Columns found: {shown or 'none'}."}
        )
    return positions


def read_header(file_obj: IO[Any]) -> list[str]:
    """The file's first line as column names, read without consuming the file."""
    file_obj.seek(0)
    head = file_obj.read(HEADER_MAX_BYTES)
    file_obj.seek(0)
    text = head.decode("utf-8-sig", errors="replace") if isinstance(head, bytes) else head.lstrip("\ufeff")
    if not text.strip():
        raise ValidationError({"file": "The file is empty."})
    if "\n" not in text and "\r" not in text and len(head) >= HEADER_MAX_BYTES:
        raise ValidationError({"file": "The first line is too long to be a header."})
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise ValidationError({"file": f"The header is not valid CSV ({exc})."}) from None
    if not any(h.strip() for h in header):
        raise ValidationError({"file": "The first line must be the header (column names)."})
    return header
