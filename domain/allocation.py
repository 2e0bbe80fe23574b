"""Exact money allocation in integer fen (分): coupon and freight spread across order lines.

Largest-remainder (Hamilton) method: every line gets the floor of its exact proportional share,
then the fen left over go one each to the lines with the largest remainders (ties: the larger
weight, then the earlier line). The parts therefore *always* sum to the total, no line gets more
than one fen above or below its exact share, and the same input always gives the same answer, so a
re-run or a retry can never move a fen.

Money enters as ``Decimal`` yuan with at most two places (``domain.order``) and is converted once
with ``to_fen``; nothing here touches float.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel

FEN_PER_YUAN = 100


class AllocationError(ValueError):
    pass


def to_fen(amount: Decimal | int | str | None) -> int:
    """Yuan → integer fen; refuses anything finer than a fen rather than rounding it away."""
    if amount is None:
        return 0
    d = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    fen = d * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise AllocationError(f"{amount} has more than two decimal places")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    """Integer fen → Decimal yuan with exactly two places."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` fen across ``weights`` in proportion; the result sums to ``total`` exactly.

    All-zero weights split evenly (still largest remainder). A negative total or weight, or a
    positive total with no weights, is an error: there is nothing sensible to give it to.
    """
    if total < 0:
        raise AllocationError("total must not be negative")
    if any(w < 0 for w in weights):
        raise AllocationError("weights must not be negative")
    n = len(weights)
    if n == 0:
        if total:
            raise AllocationError(f"cannot allocate {total} fen across no lines")
        return []
    ws = list(weights) if sum(weights) > 0 else [1] * n
    wsum = sum(ws)
    base = [total * w // wsum for w in ws]
    remainders = [total * w % wsum for w in ws]
    left = total - sum(base)
    # largest remainder first; ties: larger weight, then earlier position (deterministic)
    order = sorted(range(n), key=lambda i: (-remainders[i], -ws[i], i))
    for i in order[:left]:
        base[i] += 1
    return base


class LineAllocation(BaseModel):
    line_no: int
    goods_fen: int  # unit price × quantity
    coupon_fen: int
    freight_fen: int

    @property
    def paid_fen(self) -> int:
        return self.goods_fen - self.coupon_fen + self.freight_fen


class OrderAllocation(BaseModel):
    """An order's money at completion: totals and their exact per-line split (all in fen)."""

    goods_fen: int
    coupon_fen: int
    freight_fen: int
    lines: list[LineAllocation]

    @property
    def paid_fen(self) -> int:
        """What the customer owes: goods − coupon + freight (the PAYMENT_MISMATCH check's formula)."""
        return self.goods_fen - self.coupon_fen + self.freight_fen


def allocate_order(
    lines: Sequence[tuple[int, int]],
    coupon_fen: int,
    freight_fen: int,
    freight_weights: Sequence[int] | None = None,
) -> OrderAllocation:
    """``lines`` are (line_no, goods_fen). The coupon is spread by goods amount (never more than a
    line's goods: a coupon above the goods total is refused); freight by ``freight_weights`` (e.g.
    weight in grams) when given, else by goods amount."""
    goods = [g for _, g in lines]
    if any(g < 0 for g in goods):
        raise AllocationError("a line's goods amount is negative; allocation needs non-negative lines")
    goods_total = sum(goods)
    if coupon_fen > goods_total:
        raise AllocationError(f"coupon {coupon_fen} fen exceeds the goods total {goods_total} fen")
    coupons = allocate(coupon_fen, goods)
    if freight_weights is not None and len(freight_weights) != len(lines):
        raise AllocationError("freight_weights must have one weight per line")
    freights = allocate(freight_fen, freight_weights if freight_weights is not None else goods)
    return OrderAllocation(
        goods_fen=goods_total,
        coupon_fen=coupon_fen,
        freight_fen=freight_fen,
        lines=[
            LineAllocation(line_no=no, goods_fen=g, coupon_fen=c, freight_fen=f)
            for (no, g), c, f in zip(lines, coupons, freights, strict=True)
        ],
    )
