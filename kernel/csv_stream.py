"""Streaming CSV downloads: one writer for every export (audit, queue, statements,
remittance), so rows go to the client as they are produced."""

from __future__ import annotations

import csv
from typing import Any


class _Echo:
    """A file-like object whose write() returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_line_writer() -> Any:
    """A csv.writer whose writerow() returns the formatted line."""
    return csv.writer(_Echo())
