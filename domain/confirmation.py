"""Customer address re-confirmation: the payloads between the customer's page, the API and the order
workflow, and the signed link that is the customer's only credential.

Pure (pydantic + stdlib): the workflow imports these models and the API checks tokens with them.
A token binds an order id and a confirmation round with an HMAC-SHA256 of a server secret, so a
customer can neither forge a link nor reuse theirs for somebody else's order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

TOKEN_VERSION = "c1"


class LatLng(BaseModel):
    lat: float = Field(ge=-90, le=90, description="latitude, WGS-84 degrees")
    lng: float = Field(ge=-180, le=180, description="longitude, WGS-84 degrees")


class AddressConfirmation(BaseModel):
    """The delivery point the customer picked (update ``confirm_address``)."""

    lat: float = Field(ge=-90, le=90, description="latitude of the delivery point, -90..90")
    lng: float = Field(ge=-180, le=180, description="longitude of the delivery point, -180..180")
    confirmed_by: str = Field(default="customer", min_length=1, max_length=64)
    round: int | None = Field(default=None, ge=1, description="the card round the link was for")

    @property
    def point(self) -> LatLng:
        return LatLng(lat=self.lat, lng=self.lng)


_PHONE_CHARS = re.compile(r"^\+?[\d\s-]{5,32}$")


class AddressChange(BaseModel):
    """A new delivery address (update ``change_address``): cleansing, risk and routing run again."""

    model_config = ConfigDict(str_strip_whitespace=True)
    address: str = Field(min_length=5, max_length=300, description="the new address as one line of Chinese text")
    name: str | None = Field(default=None, min_length=1, max_length=64, description="new recipient name")
    phone: str | None = Field(default=None, min_length=5, max_length=32, description="new recipient phone")
    requested_by: str = Field(default="customer", min_length=1, max_length=64)

    @field_validator("address")
    @classmethod
    def _not_only_digits(cls, v: str) -> str:
        if not re.search(r"[\u4e00-\u9fff]", v):
            raise ValueError("地址需包含中文地名 / the address must name a place in Chinese, e.g. 浙江省杭州市萧山区北干街道…")
        return v

    @field_validator("phone")
    @classmethod
    def _phone_chars(cls, v: str | None) -> str | None:
        if v is not None and not _PHONE_CHARS.match(v):
            raise ValueError("电话只能包含数字、空格、'-' 和开头的 '+' / phone may contain digits, spaces, '-' and a leading '+'")
        return v


class ConfirmationResult(BaseModel):
    """The workflow's answer to a confirmation or an address change, shown to the customer as is."""

    accepted: bool
    message: str
    distance_km: float | None = None
    round: int = 1


class ConfirmationCard(BaseModel):
    """What the customer receives in the mini-program (first card or reminder)."""

    order_id: str
    round: int
    url: str
    address_text: str
    customer_name: str
    phone_masked: str
    reminder: bool = False
    sent_at: datetime
    pushed: bool = True  # False: no mini-program configured, the card was only logged


class InvalidToken(ValueError):
    """A confirmation link that was not issued by us (forged, truncated or for another secret)."""


def derive_secret(confirm_secret: str, api_key: str) -> str:
    """The configured secret, or one derived from the API key (never the API key itself)."""
    if confirm_secret:
        return confirm_secret
    if not api_key:
        raise ValueError("no confirm_secret and no API key to derive it from")
    return hmac.new(api_key.encode(), b"zhongshu-address-confirmation", hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{TOKEN_VERSION}.{body}".encode(), hashlib.sha256).digest()[:20])


def make_token(secret: str, order_id: str, round: int) -> str:
    """URL-safe ``<payload>.<mac>``; the payload is readable (order id and round), the MAC is not forgeable."""
    if not secret:
        raise ValueError("an empty secret cannot sign confirmation links")
    if round < 1:
        raise ValueError("round starts at 1")
    body = _b64(f"{order_id}\n{round}".encode())
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str) -> tuple[str, int]:
    """(order_id, round) of a token we issued; ``InvalidToken`` with the reason otherwise."""
    body, sep, mac = token.partition(".")
    if not sep or not body or not mac:
        raise InvalidToken("链接无效(格式不对)/ malformed confirmation link")
    if not hmac.compare_digest(mac, _sign(secret, body)):
        raise InvalidToken("链接无效或已被篡改 / confirmation link signature does not match")
    try:
        order_id, _, round_text = _unb64(body).decode().partition("\n")
        round_no = int(round_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidToken("链接无效(内容无法解析)/ confirmation link payload unreadable") from None
    if not order_id or round_no < 1:
        raise InvalidToken("链接无效(内容无法解析)/ confirmation link payload unreadable")
    return order_id, round_no


def should_skip(channel: str, skip_channels: Iterable[str] | str, trusted: bool) -> bool:
    """No card for a channel configured to skip it (e.g. ``erp``), nor for a trusted repeat address."""
    if isinstance(skip_channels, str):
        skip_channels = skip_channels.split(",")
    skips = {c.strip().lower() for c in skip_channels if c and c.strip()}
    return str(channel).lower() in skips or trusted


def card_title(reminder: bool) -> str:
    return "请再次确认收货位置(提醒)" if reminder else "请确认收货位置"
