"""The canonical order: what every channel's payload is mapped to before anything else happens.

Two shapes: ``OrderSubmission`` is what a caller sends (structurally validated, texts as given);
``CleanOrder`` is the same order after cleansing (names trimmed, phone in E.164, address resolved
to official province/city/district + adcode, catalogue codes). Money is ``Decimal`` yuan with at
most two places; arithmetic that must sum exactly (allocation) converts to integer fen.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

# ---- what the stores can hold (store/schema.py) ------------------------------------------------
# Money columns are Numeric(14, 2) (12 integer digits; SQLite keeps them as REAL, exact to 15
# significant digits), finance keeps BigInteger fen, quantities are 32-bit Integer. Every amount an
# order carries or implies (a price, a line's quantity × price, the goods total, paid, freight, coupon)
# stays ≤ MAX_AMOUNT, 100 × below the column's limit, so sums over an order never overflow a column.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = 100_000
# Times: Python's datetime arithmetic overflows near year 1 and 9999 ("date value out of range");
# these bounds hold for every stored order, replays included. The door adds a window around now.
EARLIEST_ORDER = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_ORDER = datetime(9000, 1, 1, tzinfo=UTC)

# C0/C1 control characters except tab/newline/carriage return, DEL, and lone surrogates: PostgreSQL
# text cannot hold NUL, UTF-8 cannot encode a lone surrogate, and none belongs in an order.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def unstorable_chars(text: str) -> list[str]:
    """The characters of ``text`` no store can hold, as 'U+0000' codes (each once, in order)."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in _UNSTORABLE.findall(text)))


def storable(text: str, replacement: str = "\ufffd") -> str:
    """``text`` with every unstorable character replaced (for recording what arrived, never for orders)."""
    return _UNSTORABLE.sub(replacement, text)


def _refuse_control(value: Any) -> Any:
    """Identifiers and codes: a control character means the value is broken; refuse, never guess."""
    if isinstance(value, str) and (bad := unstorable_chars(value)):
        raise ValueError(f"含有不可保存的控制字符 {', '.join(bad)}, 请去掉后重发 (contains control characters)")
    return value


def _drop_control(value: Any) -> Any:
    """Free text (names, address, note): control characters are noise from copy/paste or encodings."""
    return _UNSTORABLE.sub("", value) if isinstance(value, str) else value


def _money_in_bounds(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("不能为负数 (must not be negative)")
    if value > MAX_AMOUNT:
        raise ValueError(f"金额不能超过 {MAX_AMOUNT} 元 (at most {MAX_AMOUNT})")
    return value


def _price_in_bounds(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("单价不能为负数; 0 元单价可提交, 由人工风控审核 (a negative unit price is invalid)")
    if value > MAX_AMOUNT:
        raise ValueError(f"单价不能超过 {MAX_AMOUNT} 元 (at most {MAX_AMOUNT})")
    return value


Id = Annotated[str, BeforeValidator(_refuse_control)]
Text = Annotated[str, BeforeValidator(_drop_control)]
Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=12, decimal_places=2), AfterValidator(_money_in_bounds)]
# 0 is a risk feature a person reviews (PRICE_BELOW_FLOOR), a negative price is invalid data
UnitPrice = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=12, decimal_places=2), AfterValidator(_price_in_bounds)]


BEIJING = timezone(timedelta(hours=8))


def beijing(at: datetime) -> str:
    """A moment as a person here reads it: 2026-12-03 19:40 (北京时间)."""
    return f"{at.astimezone(BEIJING):%Y-%m-%d %H:%M} (北京时间)"


def _null_means_default(model: type[BaseModel], data: Any) -> Any:
    """An explicit ``null`` for a field that has a default but takes no null (note, freight,
    needs_installation) means "not given", as most channels' JSON says it: the default, not a 422."""
    if not isinstance(data, dict):
        return data
    drop = [k for k, v in data.items() if v is None and (f := model.model_fields.get(k)) is not None
            and not f.is_required() and f.default is not None]
    return {k: v for k, v in data.items() if k not in drop} if drop else data


class OrderTimeWindow(BaseModel):
    """When an order may say it was placed, relative to when it reaches us. Checked at the door (API,
    channel intake) only, never when a stored order is read back: an old order stays readable.
    Settings: ``ZHONGSHU_ORDER_WINDOW__EARLIEST``, ``__MAX_AGE_DAYS``, ``__MAX_AHEAD_HOURS``."""

    earliest: datetime = EARLIEST_ORDER
    max_age_days: int = Field(default=1095, ge=1, le=36500, description="older orders (e.g. ERP history) need a larger value")
    max_ahead_hours: float = Field(default=24, ge=0, le=24 * 366)

    def problem(self, at: datetime, now: datetime) -> str | None:
        """Why ``at`` is not a plausible order time at ``now`` (Chinese, naming the field), or None."""
        earliest = max(self.earliest if self.earliest.tzinfo else self.earliest.replace(tzinfo=UTC),
                       now - timedelta(days=self.max_age_days))
        latest = now + timedelta(hours=self.max_ahead_hours)
        if at < earliest:
            return (f"早于允许的最早时间 {beijing(earliest)} (收到 {beijing(at)}; 最多 {self.max_age_days} 天前, "
                    f"不早于 {self.earliest.date()}); 请检查年份")
        if at > latest:
            return (f"晚于当前时间 {self.max_ahead_hours:g} 小时以上 (收到 {beijing(at)}; 最晚 {beijing(latest)}); "
                    "请检查时区和年份")
        return None


DOOR = "order_door"  # validation-context key: {DOOR: (OrderTimeWindow, now)} turns the window check on


class Channel(StrEnum):
    TMALL = "tmall"
    TAOBAO = "taobao"
    DOUYIN = "douyin"
    MINIPROGRAM = "miniprogram"
    ERP = "erp"
    MANUAL = "manual"  # API callers without a sales channel
    TEAM = "team"  # small teams' registration form (小微团队, api/team_routes.py)


class Customer(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    id: Id = Field(min_length=1, max_length=64, description="the customer's id in the channel or CRM")
    name: Text = Field(min_length=1, max_length=64, description="recipient name")
    phone: Id = Field(min_length=5, max_length=32, description="mobile number, any common format")


class AddressIn(BaseModel):
    """Either ``raw`` text, or structured parts (at least ``detail``); both may be given."""

    model_config = ConfigDict(str_strip_whitespace=True)
    raw: Text | None = Field(default=None, max_length=300)
    province: Text | None = Field(default=None, max_length=32)
    city: Text | None = Field(default=None, max_length=32)
    district: Text | None = Field(default=None, max_length=32)
    detail: Text | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _some_text(self) -> AddressIn:
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
    sku: Id = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=128)
    category: Id = Field(min_length=1, max_length=32, description="catalogue category, e.g. 发动机总成")
    quantity: int = Field(gt=0, le=MAX_QUANTITY)
    unit_price: UnitPrice = Field(description="yuan, two places; 0 is held for a person (risk), negative is refused")
    vehicle_model: Id | None = Field(default=None, max_length=64, description="fitment, e.g. 卡罗拉18款")
    weight_kg: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=3)
    needs_installation: bool = Field(default=False, description="a technician installs it after delivery")
    supplier: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$",
                                 description="sourced from this supplier's regional warehouse, e.g. BOSCH")

    @field_validator("quantity", mode="before")
    @classmethod
    def _no_bool_quantity(cls, v: Any) -> Any:
        if isinstance(v, bool):  # pydantic would read true as 1: a mistake, not a quantity
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return v

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _null_means_default(cls, data)

    @model_validator(mode="after")
    def _line_amount_in_bounds(self) -> LineIn:
        if self.unit_price * self.quantity > MAX_AMOUNT:
            raise ValueError(f"行金额 数量×单价 = {self.quantity}×{self.unit_price} = {self.unit_price * self.quantity} "
                             f"超过上限 {MAX_AMOUNT} 元 (line amount too large)")
        return self


class Coupon(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    code: Id = Field(min_length=1, max_length=64)
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
    note: Text = Field(default="", max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _null_means_default(cls, data)

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, v: datetime, info: ValidationInfo) -> datetime:
        if v.tzinfo is None:
            raise ValueError("需要带时区, 例如 2026-11-27T10:00:00+08:00 (ordered_at needs a timezone)")
        try:
            at = v.astimezone(UTC)
        except OverflowError:  # year 1 / 9999 with an offset
            at = None
        if at is None or not EARLIEST_ORDER <= at < LATEST_ORDER:
            raise ValueError(f"不在 {EARLIEST_ORDER.year}–{LATEST_ORDER.year} 年之间 (收到 {v.isoformat()}), "
                             "不是有效的下单时间 (out of range)")
        door = (info.context or {}).get(DOOR)
        if door is not None:
            window, now = door
            if why := window.problem(at, now):
                raise ValueError(why)
        return at

    @field_validator("lines")
    @classmethod
    def _goods_in_bounds(cls, lines: list[LineIn]) -> list[LineIn]:
        total = sum((ln.unit_price * ln.quantity for ln in lines), Decimal("0"))
        if total > MAX_AMOUNT:
            raise ValueError(f"订单货值合计 {total} 元超过上限 {MAX_AMOUNT} 元 (goods total too large)")
        return lines

    @classmethod
    def at_door(cls, payload: Any, *, window: OrderTimeWindow | None = None, now: datetime | None = None) -> OrderSubmission:
        """Validate a payload as it arrives (API, channel intake): the stored-order rules plus the time
        window around ``now``. Reading a stored order back (workflow input, activities) uses plain
        ``model_validate``, so an order that was plausible when it came stays readable for ever."""
        return cls.model_validate(payload, context={DOOR: (window or OrderTimeWindow(), now or datetime.now(UTC))})

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
