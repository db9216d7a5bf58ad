"""An authority report (``reports.AuthorityReport``) as a PDF, with fpdf2.

The text is set in DejaVu Sans when that font is installed (``INCIDENT_REPORT_FONT``, or
the usual system paths; the slim Docker image has none), so any script the officer typed prints as typed. Without it the
PDF falls back to Helvetica, which holds Latin-1 only: dashes and quotes are replaced by
their plain forms and other characters by "?" (the HTML page shows everything).
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path

from django.conf import settings
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from incidents.reports import AuthorityReport

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
_PLAIN = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "→": "->", "·": "-"})


def _font() -> Path | None:
    """The TrueType font to embed: ``INCIDENT_REPORT_FONT`` (a path; ``core`` for the
    built-in Helvetica), else DejaVu Sans where the system has it, else None."""
    configured = getattr(settings, "INCIDENT_REPORT_FONT", "")
    if configured == "core":
        return None
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class _Pdf(FPDF):
    def __init__(self, report: AuthorityReport) -> None:
        super().__init__(format="A4")
        self.report = report
        font = _font()
        self.unicode_font = font is not None
        if font is not None:
            self.add_font("Report", "", str(font))
            bold = font.with_name(font.name.replace("DejaVuSans", "DejaVuSans-Bold"))
            self.add_font("Report", "B", str(bold if bold.is_file() else font))
            self.report_family = "Report"
        else:
            self.report_family = "helvetica"
        self.set_title(self.plain(f"{report.incident.reference} — {report.authority.title}"))
        self.set_author(self.plain(report.workspace.name))
        self.set_auto_page_break(auto=True, margin=15)

    def plain(self, value: str) -> str:
        if self.unicode_font:
            return value
        return value.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.report_family, "", 8)
        self.cell(
            0,
            5,
            self.plain(f"{self.report.incident.reference} · {self.report.code} · page {self.page_no()}/{{nb}}"),
            align="C",
        )

    def para(self, value: str, *, size: float = 10, style: str = "", height: float = 5) -> None:
        self.set_font(self.report_family, style, size)
        self.multi_cell(0, height, self.plain(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def report_pdf(report: AuthorityReport) -> bytes:
    """The report as PDF bytes: title, how to file, then each section's fields (a
    field CollectPro cannot fill says so, with its hint)."""
    pdf = _Pdf(report)
    pdf.add_page()
    zone = report.workspace.timezone
    pdf.para(report.authority.title, size=15, style="B", height=7)
    pdf.para(f"To: {report.authority.name}", size=11)
    pdf.para(
        f"{report.workspace.name} · incident {report.incident.reference} — {report.incident.title}",
        size=11,
    )
    pdf.para(
        f"Pre-filled by CollectPro on {report.generated_at.astimezone(zoneinfo.ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone}). "
        "Check every field before filing; fields marked 'to fill in' hold nothing CollectPro knows.",
        size=9,
    )
    pdf.para(f"How to file: {report.authority.how_to_file}", size=9)
    for section in report.sections:
        pdf.ln(3)
        pdf.para(section.heading, size=12, style="B", height=6)
        for field in section.fields:
            pdf.para(field.label, size=9, style="B")
            if field.value:
                pdf.para(field.value)
            else:
                pdf.para("[to fill in]" + (f" {field.hint}" if field.hint else ""), size=9)
            pdf.ln(1)
    return bytes(pdf.output())
