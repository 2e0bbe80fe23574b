"""Field cleansing: one pure function from a submission to a clean order or a list of field errors.

Runs in the API (so a bad payload gets a synchronous 422 naming the field) and in the workflow's
first activity (so orders from any channel are cleansed the same way). Address resolution is
offline (domain/addresses.py, over today's divisions) and never guesses; phones use Google's
libphonenumber.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from pydantic import BaseModel

from domain import addresses, labels
from domain.catalogue import normalize_text, parse_category, parse_vehicle_model
from domain.errors import FieldError
from domain.order import CleanLine, CleanOrder, OrderSubmission, ResolvedAddress


class CleansingResult(BaseModel):
    order: CleanOrder | None
    errors: list[FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_name(name: str) -> str:
    """Trim, fold full-width characters, collapse inner whitespace (Chinese names keep no spaces)."""
    text = normalize_text(name)
    if re.fullmatch(r"[\u3007\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f\s·]+", text):
        text = text.replace(" ", "")
    return text


def normalize_phone(raw: str) -> str:
    """E.164 form of a Chinese (or explicitly international) number; ValueError says why not."""
    text = normalize_text(raw)
    text = re.sub(r"[\s\-()（）.]", "", text)
    if text.startswith("0086"):
        text = "+86" + text[4:]
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} 不是电话号码 (not a phone number)") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} 不是有效的手机或固话号码 (not a valid phone number)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def resolve_address(text: str) -> ResolvedAddress | None:
    """Official province/city/district + adcode, or None when the text does not pin down one district.

    Unresolved is better than wrong: a district name that exists in several cities (西湖区), a former
    district split since (江干区) or two readings that disagree leave the order to a person
    (domain/addresses.py says how an address is read).
    """
    return addresses.resolve(text)


def _error(field: str, why: str | Exception) -> FieldError:
    """收货人电话不正确: '12345' 不是有效的手机或固话号码 — the field's Chinese name first, the English
    gloss the domain's messages carry dropped (a person reads this; the field path is for programs)."""
    text = re.sub(r"\s*\([A-Za-z][^()]*\)\s*$", "", str(why))
    joiner = "" if isinstance(why, str) else "不正确: "
    return FieldError(field=field, message=f"{labels.field_label(field)}{joiner}{text}")


def cleanse(sub: OrderSubmission) -> CleansingResult:
    errors: list[FieldError] = []

    name = clean_name(sub.customer.name)
    if not name:
        errors.append(_error("customer.name", "去掉空格后为空, 请填写"))
    phone = ""
    try:
        phone = normalize_phone(sub.customer.phone)
    except ValueError as exc:
        errors.append(_error("customer.phone", exc))

    lines: list[CleanLine] = []
    for i, line in enumerate(sub.lines):
        category = line.category
        try:
            category = parse_category(line.category).value
        except ValueError as exc:
            errors.append(_error(f"lines[{i}].category", exc))
        vehicle = None
        if line.vehicle_model:
            try:
                vehicle = parse_vehicle_model(line.vehicle_model).name
            except ValueError as exc:
                errors.append(_error(f"lines[{i}].vehicle_model", exc))
        lines.append(
            CleanLine(
                line_no=i + 1,
                sku=normalize_text(line.sku).upper(),
                name=normalize_text(line.name),
                category=category,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vehicle_model=vehicle,
                weight_kg=line.weight_kg,
                needs_installation=line.needs_installation,
                supplier=line.supplier.upper() if line.supplier else None,
            )
        )

    if sub.coupon and sub.coupon.amount > sum((ln.amount for ln in lines), 0):
        errors.append(_error("coupon.amount", "超过商品金额合计"))

    if errors:
        return CleansingResult(order=None, errors=errors)

    raw_address = normalize_text(sub.address.as_text())
    return CleansingResult(
        order=CleanOrder(
            order_id=sub.order_id,
            channel=sub.channel,
            channel_order_id=sub.channel_order_id,
            ordered_at=sub.ordered_at,
            customer_id=sub.customer.id,
            customer_name=name,
            phone=phone,
            address_raw=raw_address,
            address=resolve_address(raw_address),
            lines=lines,
            coupon=sub.coupon,
            freight=sub.freight,
            paid_amount=sub.paid_amount,
            note=normalize_text(sub.note),
        ),
        errors=[],
    )


def mask_phone(phone: str) -> str:
    """For logs: +8613812345678 → +86138****5678."""
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_name(name: str) -> str:
    """For places anyone may read (the Temporal UI's summaries): 王建国 → 王**."""
    name = name.strip()
    return name[:1] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def mask_address(text: str) -> str:
    return text[:6] + "…" if len(text) > 6 else text
