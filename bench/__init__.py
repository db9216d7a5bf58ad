"""CollectPro benchmarks: throughput as a ratio against a baseline measured in the same run.

The machines these run on are small and noisy (2 shared cores), so an absolute figure
such as "41,000 rows/s" says little on its own. Every benchmark therefore measures a
*baseline* (the cheapest way to do the same work: a raw AES-GCM call, a plain INSERT)
interleaved with the CollectPro code path, and reports the ratio
``collectpro rate / baseline rate`` for each repeat; the median of those ratios is the
figure to compare between runs and machines.

A benchmark is a module ``bench/<name>.py`` with ``run(quick: bool) -> list[Row]``.
Run them with ``python -m bench [names] [--quick]`` (see ``bench/__main__.py``).
Nothing here is imported by the application or the test suite, and nothing asserts on
timings: the figures are for reading, not for failing builds.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# The benchmarks ``python -m bench`` runs, in order.
BENCHMARKS: tuple[str, ...] = ("crypto", "audit")
# Run only when named (``python -m bench seed_million api_list pages``): PostgreSQL only,
# minutes each, on a workspace of 1,000,000 debts seeded once and reused (placements: a
# 1,000,000-row import into a new workspace). A module may
# set ``VENDORS`` (the database vendors it runs on; others skip it) and ``RUN_MODE``
# (how a full run measures, for the results' header line).
LARGE_BENCHMARKS: tuple[str, ...] = (
    "seed_million",
    "api_list",
    "pages",
    "placements",
    "priority",
    "privacy",
    "privacy_erasure",
    "retention",
    "incidents",
)


class Row(NamedTuple):
    """One line of a results table."""

    name: str
    value: float  # the measured rate (median of the repeats)
    unit: str
    baseline: float  # the baseline's rate in the same run
    ratio: float  # median over repeats of value/baseline (1.0 for the baseline itself)
    notes: str = ""


@dataclass(frozen=True)
class Settings:
    repeats: int = 5  # timed repeats per case; the median is reported
    target_seconds: float = 0.4  # how long one timed repeat of one case should take
    warmup_seconds: float = 0.2  # untimed calls before the first repeat (also calibrates n)
    slices: int = 8  # each repeat is cut into this many slices, alternating between the cases

    @classmethod
    def for_run(cls, quick: bool, *, database: bool = False) -> Settings:
        """``database``: the cases commit transactions, whose latency (fsync) is noisier
        than CPU work, so each repeat runs longer."""
        if quick:
            return cls(target_seconds=0.1 if database else 0.05, warmup_seconds=0.05, slices=2)
        return cls(target_seconds=1.0 if database else 0.4)


@dataclass
class Case:
    """One thing to time. ``run(n)`` performs ``n`` operations (rows, events)."""

    name: str
    run: Callable[[int], Any]
    unit: str = "rows/s"
    notes: str = ""


@dataclass
class Measured:
    case: Case
    n: int = 0
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def _timed(run: Callable[[int], Any], n: int, *, collect: bool = True) -> float:
    if collect:
        gc.collect()  # cheap: compare() froze everything older than the run
    start = time.perf_counter()
    run(n)
    return time.perf_counter() - start


def _calibrate(case: Case, settings: Settings) -> int:
    """Warm the case up for ``warmup_seconds`` and return the n that makes one timed
    repeat last about ``target_seconds``."""
    n, spent, done = 1, 0.0, 0
    while spent < settings.warmup_seconds:
        spent += _timed(case.run, n, collect=False)
        done += n
        n *= 2
    rate = done / spent if spent > 0 else 1e6
    return max(1, math.ceil(rate * settings.target_seconds))


def compare(cases: list[Case], settings: Settings) -> list[Measured]:
    """Time every case ``settings.repeats`` times; ``cases[0]`` is the baseline.

    A noisy machine speeds up and slows down while it runs, so the cases are
    interleaved finely: each repeat is cut into ``settings.slices`` slices, and every
    slice runs a part of every case (starting from a different case each time). So a
    slow phase hits the baseline and the CollectPro path alike, and each case's ratio
    is taken against the baseline of the *same* repeat."""
    # Move everything alive now (Django, the app) out of the collector's sight, so the
    # collection before each timed slice costs microseconds, not a tenth of a second.
    gc.collect()
    gc.freeze()
    measured = [Measured(case) for case in cases]
    for m in measured:
        m.n = _calibrate(m.case, settings)
    slices = max(1, settings.slices)
    turn = 0
    for _ in range(settings.repeats):
        spent = dict.fromkeys(range(len(measured)), 0.0)
        done = dict.fromkeys(range(len(measured)), 0)
        for part in range(slices):
            order = list(range(len(measured)))
            turn += 1
            shift = turn % len(order)
            for i in order[shift:] + order[:shift]:
                m = measured[i]
                # Slice boundaries spread n evenly (each slice runs at least once).
                n = max(1, m.n * (part + 1) // slices - m.n * part // slices)
                spent[i] += _timed(m.case.run, n)
                done[i] += n
        for i, m in enumerate(measured):
            m.rates.append(done[i] / spent[i])
        base = measured[0].rates[-1]
        for m in measured:
            m.ratios.append(m.rates[-1] / base)
    return measured


def rows_from(measured: list[Measured]) -> list[Row]:
    """Result rows, with the spread of the ratio over the repeats in the notes."""
    base = measured[0]
    rows = []
    for i, m in enumerate(measured):
        notes = m.case.notes
        if i:
            lo, hi = min(m.ratios), max(m.ratios)
            spread = f"ratio {lo:.3g}–{hi:.3g} over {len(m.ratios)} repeats; {1 / m.ratio:.1f}× the baseline's time"
            notes = f"{notes}; {spread}" if notes else spread
        rows.append(Row(m.case.name, m.rate, m.case.unit, base.rate, m.ratio if i else 1.0, notes))
    return rows


def bench_workspace(label: str) -> Any:
    """A new workspace (and owner without a password, so no hashing) for one benchmark.

    Needs Django to be set up; made through the real service, as the app does."""
    import uuid

    from accounts.models import User
    from accounts.services import workspace_create

    tag = uuid.uuid4().hex[:10]
    email = f"bench-{tag}@example.com"
    User.objects.create_user(email=email, password=None)
    return workspace_create(
        slug=f"bench-{label}-{tag}", name=f"Benchmark {label} {tag}", owner_email=email, owner_password=None
    )
