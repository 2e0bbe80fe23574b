"""Largest-remainder allocation in fen: sums are always exact, shares within one fen of exact."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from domain.allocation import AllocationError, allocate, allocate_order, from_fen, to_fen


def test_hand_computed_three_way_split():
    # 10 fen over 1:1:1 → exact 3⅓ each; one fen left goes to the first (ties: earlier line)
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    # 100 fen over 50/30/20 → exact
    assert allocate(100, [50, 30, 20]) == [50, 30, 20]
    # 1 fen over 2:1 → the larger remainder (2/3) wins
    assert allocate(1, [2, 1]) == [1, 0]
    # 3 fen over 7:3:5 → 1.4, 0.6, 1.0: floors 1, 0, 1; the one fen left goes to remainder .6
    assert allocate(3, [7, 3, 5]) == [1, 1, 1]


def test_coupon_across_lines_hand_computed():
    # goods 268.00×2 = 53600, 99.90 = 9990, 0.10 = 10 → 63600 fen; coupon 50.00 = 5000 fen
    # exact shares: 4213.836…, 785.377…, 0.786… → floors 4213, 785, 0 (=4998), 2 fen left:
    # largest remainders .836 (line 1) and .786 (line 3)
    alloc = allocate_order([(1, 53600), (2, 9990), (3, 10)], coupon_fen=5000, freight_fen=1000)
    assert [ln.coupon_fen for ln in alloc.lines] == [4214, 785, 1]
    # freight 10.00 by goods: 842.77…, 157.07…, 0.157… → 842, 157, 0 (=999), 1 left → line 1 (.77)
    assert [ln.freight_fen for ln in alloc.lines] == [843, 157, 0]
    assert alloc.paid_fen == 63600 - 5000 + 1000 == sum(ln.paid_fen for ln in alloc.lines)


def test_freight_by_weight_and_zero_weights():
    alloc = allocate_order([(1, 1000), (2, 1000)], coupon_fen=0, freight_fen=1001, freight_weights=[3000, 1000])
    assert [ln.freight_fen for ln in alloc.lines] == [751, 250]
    assert allocate(5, [0, 0]) == [3, 2]  # nothing to weigh by: evenly
    assert allocate(0, [3, 4]) == [0, 0]
    assert allocate(0, []) == []


def test_sums_always_exact_and_within_one_fen():
    rng = random.Random(20261127)
    for _ in range(2000):
        n = rng.randint(1, 12)
        weights = [rng.choice([0, 1, 7, 99, 26800, rng.randint(0, 10**7)]) for _ in range(n)]
        total = rng.randint(0, 10**6)
        parts = allocate(total, weights)
        assert sum(parts) == total
        wsum = sum(weights) or n
        ws = weights if sum(weights) else [1] * n
        for p, w in zip(parts, ws, strict=True):
            assert abs(Fraction(p) - Fraction(total * w, wsum)) < 1
    # the same input always gives the same answer
    assert allocate(12345, [3, 3, 3, 1]) == allocate(12345, [3, 3, 3, 1])


def test_coupon_never_exceeds_a_line_and_refusals():
    alloc = allocate_order([(1, 1), (2, 999)], coupon_fen=1000, freight_fen=0)
    assert [ln.coupon_fen for ln in alloc.lines] == [1, 999]
    with pytest.raises(AllocationError):
        allocate_order([(1, 100)], coupon_fen=101, freight_fen=0)
    with pytest.raises(AllocationError):
        allocate(-1, [1])
    with pytest.raises(AllocationError):
        allocate(5, [])


def test_fen_conversion_is_exact():
    assert to_fen(Decimal("268.00")) == 26800
    assert to_fen("0.01") == 1 and to_fen(None) == 0
    assert from_fen(1) == Decimal("0.01") and from_fen(123456) == Decimal("1234.56")
    with pytest.raises(AllocationError):
        to_fen(Decimal("0.001"))
