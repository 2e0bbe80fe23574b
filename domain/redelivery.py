"""What changed between two deliveries of the same channel order (a channel re-sends an order the
customer edited). The order workflow applies an address change before dispatch and puts the rest on
the timeline for a person; this module only says what differs, in words a person reads."""

from __future__ import annotations

from pydantic import BaseModel

from domain.order import OrderSubmission


class Change(BaseModel):
    field: str
    before: str
    after: str

    def text(self) -> str:
        return f"{self.field}: {self.before or '-'} → {self.after or '-'}"


def _lines(sub: OrderSubmission) -> str:
    return ", ".join(f"{ln.sku}×{ln.quantity}" for ln in sub.lines)


def changes(before: OrderSubmission, after: OrderSubmission) -> list[Change]:
    """Differences that matter to fulfilment or money, in a stable order (address first)."""
    pairs = [
        ("address", before.address.as_text(), after.address.as_text()),
        ("customer.name", before.customer.name, after.customer.name),
        ("customer.phone", before.customer.phone, after.customer.phone),
        ("lines", _lines(before), _lines(after)),
        ("paid_amount", str(before.paid_amount), str(after.paid_amount)),
        ("coupon", before.coupon.code if before.coupon else "", after.coupon.code if after.coupon else ""),
        ("note", before.note, after.note),
    ]
    return [Change(field=f, before=b, after=a) for f, b, a in pairs if b.strip() != a.strip()]
