"""Realistic, deterministic demo placements (no real people: names are combined
at random from common given and family names)."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

NAMES = {
    "IN": (
        [
            "Aarav",
            "Vivaan",
            "Aditya",
            "Ananya",
            "Diya",
            "Ishaan",
            "Kavya",
            "Meera",
            "Rohan",
            "Saanvi",
            "Arjun",
            "Priya",
            "Rahul",
            "Sneha",
            "Vikram",
            "Neha",
            "Karan",
            "Pooja",
            "Siddharth",
            "Lakshmi",
            "Farhan",
            "Zoya",
            "Harpreet",
            "Gurpreet",
        ],
        [
            "Sharma",
            "Patel",
            "Iyer",
            "Reddy",
            "Nair",
            "Gupta",
            "Khan",
            "Singh",
            "Mehta",
            "Joshi",
            "Kulkarni",
            "Deshpande",
            "Banerjee",
            "Chatterjee",
            "Menon",
            "Pillai",
            "Rao",
            "Shaikh",
            "Naidu",
            "Bhat",
        ],
        [
            "Andheri East, Mumbai 400069",
            "Koregaon Park, Pune 411001",
            "Indiranagar, Bengaluru 560038",
            "Salt Lake, Kolkata 700091",
            "Anna Nagar, Chennai 600040",
            "Banjara Hills, Hyderabad 500034",
        ],
        "+91 9{:09d}",
    ),
    "US": (
        [
            "James",
            "Mary",
            "Robert",
            "Patricia",
            "John",
            "Jennifer",
            "Michael",
            "Linda",
            "David",
            "Elizabeth",
            "Maria",
            "Jose",
            "Carlos",
            "Aisha",
            "Tyrone",
            "Emily",
            "Daniel",
            "Sofia",
            "Kevin",
            "Grace",
        ],
        [
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Garcia",
            "Miller",
            "Davis",
            "Rodriguez",
            "Martinez",
            "Hernandez",
            "Lopez",
            "Wilson",
            "Anderson",
            "Thomas",
            "Taylor",
            "Moore",
            "Jackson",
        ],
        [
            "1200 Congress Ave, Austin, TX 78701",
            "501 Elm St, Dallas, TX 75202",
            "77 Main St, Houston, TX 77002",
            "9 Alamo Plaza, San Antonio, TX 78205",
        ],
        "+1 512{:07d}",
    ),
}

CURRENCY = {"IN": "INR", "US": "USD"}
PRODUCTS = ["Personal loan", "Credit card", "Two-wheeler loan", "Postpaid mobile", "Consumer durable loan", "Overdraft"]


def demo_rows(
    *, jurisdiction: str, client_refs: list[str], count: int, seed: int = 7, today: date | None = None
) -> Iterator[dict[str, str]]:
    given, family, addresses, phone_fmt = NAMES[jurisdiction]
    rng = random.Random(seed)  # noqa: S311  (deterministic demo data, not secrets)
    today = today or date.today()  # noqa: DTZ011  (demo data relative to the local day)
    for i in range(count):
        first, last = rng.choice(given), rng.choice(family)
        born = today - timedelta(days=rng.randint(19 * 365, 70 * 365))
        if i % 400 == 17:
            born = today - timedelta(days=16 * 365)  # a few minors, held for review
        due = today - timedelta(days=rng.choice([5, 20, 45, 75, 120, 200, 400]) + rng.randint(0, 20))
        amount = (
            rng.choice([5, 10, 25, 50, 100]) * rng.randint(20, 400)
            if jurisdiction == "IN"
            else rng.choice([1, 2, 5, 10]) * rng.randint(40, 400)
        )
        yield {
            "external_ref": f"C{seed:02d}-{i:06d}",
            "full_name": f"{first} {last}",
            "email": f"{first}.{last}{i}@example.{'in' if jurisdiction == 'IN' else 'com'}".lower(),
            "phone": phone_fmt.format(rng.randint(0, 10**7 - 1) if jurisdiction == "US" else rng.randint(0, 10**9 - 1)),
            "address": rng.choice(addresses),
            "date_of_birth": born.isoformat(),
            "national_id": f"{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}{rng.choice('PQRST')}P{rng.choice('ABCDE')}{rng.randint(1000, 9999)}{rng.choice('ABCDEFGHJK')}"
            if jurisdiction == "IN"
            else f"{rng.randint(100, 899):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}",
            "debt_reference": f"LN-{seed:02d}{i:06d}",
            "amount": f"{amount}.00",
            "currency": CURRENCY[jurisdiction],
            "due_date": due.isoformat(),
            "client_ref": client_refs[i % len(client_refs)],
        }


def write_demo_csv(path: Path, **kwargs: object) -> Path:
    rows = demo_rows(**kwargs)  # type: ignore[arg-type]
    with path.open("w", newline="") as fh:
        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
    return path
