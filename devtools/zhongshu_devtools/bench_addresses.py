"""`zhongshu bench addresses`: how many addresses resolve to the right county-level code, how many to
a wrong one (the bar is none), which are missed, and how many addresses per second.

Runs ``domain.cleansing.resolve_address`` over the labelled set tests/data/addresses.csv (406 messy
real-world forms, labels from the civil-affairs ministry's list: see tests/data/README.md), uncached,
after loading the division table once (as a worker does at start; the load time is printed too).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from zhongshu.settings import ROOT

ADDRESSES_CSV = ROOT / "tests" / "data" / "addresses.csv"
UNRESOLVED = "unresolved"


def load_cases(path: Path = ADDRESSES_CSV) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def grade(case: dict[str, str], got) -> str:
    """'right', 'miss' (unresolved but a code was expected) or 'wrong' (a code, and not the label's)."""
    expected, district = case["expected_adcode"], case.get("expected_district") or ""
    code = got.adcode if got is not None else UNRESOLVED
    if code == expected and (not district or got.district == district):
        return "right"
    return "miss" if code == UNRESOLVED else "wrong"


def run(path: Path = ADDRESSES_CSV, rounds: int = 5, console: Console | None = None) -> dict[str, object]:
    """Resolve every labelled address; print the rate, the misses and addresses/s; return the numbers."""
    from domain import divisions
    from domain.cleansing import resolve_address

    console = console or Console()
    cases = load_cases(path)
    t0 = time.perf_counter()
    divisions.table()
    load_s = time.perf_counter() - t0
    resolve = resolve_address.__wrapped__  # uncached: every call does the work
    results = []
    t0 = time.perf_counter()
    for _ in range(rounds):
        results = [resolve(c["address"]) for c in cases]
    seconds = time.perf_counter() - t0
    grades = [grade(c, r) for c, r in zip(cases, results, strict=False)]
    n, right, wrong = len(cases), grades.count("right"), grades.count("wrong")
    rate = right / n if n else 0.0

    table = Table(title=f"address resolution ({path.name}, {n} addresses)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in (
        ("right", f"{right} ({rate:.1%})"),
        ("wrong code", f"{wrong}"),
        ("unresolved but expected", f"{grades.count('miss')}"),
        ("expected unresolved (ambiguous)", f"{sum(c['expected_adcode'] == UNRESOLVED for c in cases)}"),
        ("addresses/s", f"{n * rounds / seconds:,.0f}" if seconds else "∞"),
        ("division table load (s)", f"{load_s:.2f}"),
        ("bar", "≥ 98% right, 0 wrong: " + ("met" if rate >= 0.98 and wrong == 0 else "NOT MET")),
    ):
        table.add_row(metric, value)
    console.print(table)

    misses = [(c, r, g) for c, r, g in zip(cases, results, grades, strict=False) if g != "right"]
    if misses:
        detail = Table(title="misses and wrong codes")
        for col in ("", "category", "address", "expected", "got"):
            detail.add_column(col)
        for c, r, g in misses:
            got = f"{r.adcode} {r.province}{r.city}{r.district}" if r is not None else UNRESOLVED
            want = c["expected_adcode"] + (f" {c['expected_district']}" if c.get("expected_district") else "")
            detail.add_row("✗ wrong" if g == "wrong" else "· miss", c["category"], c["address"], want, got)
        console.print(detail)
    return {"n": n, "right": right, "wrong": wrong, "rate": rate, "per_second": n * rounds / seconds if seconds else None,
            "misses": [c["address"] for c, _, _ in misses]}


if __name__ == "__main__":
    run()
