"""The canonical order: what every channel's payload is mapped to before anything else happens.

Two shapes: ``OrderSubmission`` is what a caller sends (structurally validated, texts as given);
``CleanOrder`` is the same order after cleansing (names trimmed, phone in E.164, address resolved
to official province/city/district + adcode, catalogue codes). Money is ``Decimal`` yuan with at
most two places; arithmetic that must sum exactly (allocation) converts to integer fen.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
UnitPrice = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]  # ≤ 0 is a risk feature, not a 422


class Channel(StrEnum):
    TMALL = "tmall"
    TAOBAO = "taobao"
    DOUYIN = "douyin"
    MINIPROGRAM = "miniprogram"
    ERP = "erp"
    MANUAL = "manual"  # registration form / API callers without a sales channel


class Customer(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    id: str = Field(min_length=1, max_length=64, description="the customer's id in the channel or CRM")
    name: str = Field(min_length=1, max_length=64, description="recipient name")
    phone: str = Field(min_length=5, max_length=32, description="mobile number, any common format")


class AddressIn(BaseModel):
    """Either ``raw`` text, or structured parts (at least ``detail``); both may be given."""

    model_config = ConfigDict(str_strip_whitespace=True)
    raw: str | None = Field(default=None, max_length=300)
    province: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=32)
    district: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _some_text(self) -> "AddressIn":
        if not (self.raw or self.detail or self.district):
            raise ValueError("give the address as raw text or as province/city/district/detail")
        return self

    def as_text(self) -> str:
        """One line for the resolver: complete structured parts win; otherwise parts + raw text."""
        text = "".join(p for p in (self.province, self.city, self.district, self.detail) if p)
        if self.raw and not self.detail and self.raw not in text:
            text = self.raw if text and self.raw.startswith(text) else text + self.raw
        return text


class LineIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1, max_length=32, description="catalogue category, e.g. 发动机总成")
    quantity: int = Field(gt=0, le=100000)
    unit_price: UnitPrice
    vehicle_model: str | None = Field(default=None, max_length=64, description="fitment, e.g. 卡罗拉18款")
    weight_kg: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=3)
    needs_installation: bool = Field(default=False, description="a technician installs it after delivery")
    supplier: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$",
                                 description="sourced from this supplier's regional warehouse, e.g. BOSCH")


class Coupon(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    code: str = Field(min_length=1, max_length=64)
    amount: Money


class OrderSubmission(BaseModel):
    """An order as a channel or API caller delivers it."""

    model_config = ConfigDict(str_strip_whitespace=True)
    channel: Channel
    channel_order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    ordered_at: datetime
    customer: Customer
    address: AddressIn
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    coupon: Coupon | None = None
    freight: Money = Decimal("0")
    paid_amount: Money
    note: str = Field(default="", max_length=500)

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("ordered_at needs a timezone, e.g. 2026-11-27T10:00:00+08:00")
        return v.astimezone(timezone.utc)

    @property
    def order_id(self) -> str:
        return order_id_for(self.channel, self.channel_order_id)


def order_id_for(channel: str, channel_order_id: str) -> str:
    """The workflow id; deterministic so a re-delivered order can never start twice."""
    return f"order-{Channel(channel).value}-{channel_order_id}"


class ResolvedAddress(BaseModel):
    province: str
    city: str
    district: str
    adcode: str
    detail: str
    text: str  # the full official form, for waybills

    @property
    def region(self) -> str:
        return f"{self.province}{self.city}{self.district}"


class CleanLine(BaseModel):
    line_no: int
    sku: str
    name: str
    category: str  # Category value
    quantity: int
    unit_price: Decimal
    vehicle_model: str | None = None  # VehicleModel name (catalogue code)
    weight_kg: Decimal | None = None
    needs_installation: bool = False
    supplier: str | None = None  # reserve at this supplier's regional warehouse (e.g. BOSCH)

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class CleanOrder(BaseModel):
    order_id: str
    channel: Channel
    channel_order_id: str
    ordered_at: datetime
    customer_id: str
    customer_name: str
    phone: str  # E.164
    address_raw: str
    address: ResolvedAddress | None  # None: could not be resolved → address review
    lines: list[CleanLine]
    coupon: Coupon | None
    freight: Decimal
    paid_amount: Decimal
    note: str

    @property
    def goods_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    @property
    def skus(self) -> list[str]:
        return sorted({line.sku for line in self.lines})
