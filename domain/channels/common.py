"""Helpers every channel mapper shares: errors, times, money, phones, regions and categories.

Mappers turn a channel's payload into a canonical ``OrderSubmission`` *payload* (a dict that
``api.intake``-style acceptance validates and cleanses). They only do what is channel-specific —
field names, units, time zones, repeated region prefixes, placeholder values — and leave the real
cleansing (official region names, E.164 phones, catalogue codes) to ``domain.cleansing``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.catalogue import Category, normalize_text

CHINA_TZ = timezone(timedelta(hours=8))
PLACEHOLDERS = {"", "-", "--", "无", "null", "none", "n/a", "未知", "其他"}


class MappingError(ValueError):
    """The payload cannot be mapped; ``field`` names the channel's field, ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def require(d: Any, *path: str) -> Any:
    """d[path[0]][path[1]]…, or MappingError naming the dotted path."""
    cur = d
    for i, key in enumerate(path):
        if not isinstance(cur, dict) or cur.get(key) in (None, ""):
            raise MappingError(".".join(path[: i + 1]), "missing")
        cur = cur[key]
    return cur


def text(value: Any) -> str | None:
    """Channel text, full-width folded and spaces collapsed; placeholders ('-', '无', 'null') → None."""
    if value is None:
        return None
    t = normalize_text(str(value))
    return None if t.lower() in PLACEHOLDERS else t


def china_time(value: Any, field: str) -> str:
    """ISO-8601 with an offset from a channel time: '2026-11-27 10:00:00' (China local, as TOP and
    Kingdee send it), an ISO string, or unix seconds/milliseconds."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        n = float(value)
        if n > 1e12:
            n /= 1000
        try:
            return datetime.fromtimestamp(n, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise MappingError(field, f"时间超出范围 not a time: {value!r}") from None
    if isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            raise MappingError(field, f"not a time: {value!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=CHINA_TZ)
        return dt.isoformat()
    raise MappingError(field, "missing")


def yuan(value: Any, field: str) -> str:
    """Decimal yuan text from a yuan string/number ('268.00', 268)."""
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        raise MappingError(field, f"not an amount: {value!r}") from None
    return str(d.quantize(Decimal("0.01")))


def fen(value: Any, field: str) -> str:
    """Decimal yuan text from integer fen (Douyin, WeChat pay send 分)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise MappingError(field, f"not an amount in fen: {value!r}") from None
    return str((Decimal(n) / 100).quantize(Decimal("0.01")))


_MASKED = re.compile(r"\*{3,}")


def phone(*candidates: Any, field: str) -> str:
    """The first usable phone of the candidates (mobile before landline); a masked number
    ('138****5678', as channels send without the privacy/decrypt API) cannot be mapped."""
    seen_masked = False
    for c in candidates:
        t = text(c)
        if not t:
            continue
        if _MASKED.search(t):
            seen_masked = True
            continue
        return t  # '+86 138-5711-2345', '(0571) 8888 8888' …: domain.cleansing normalizes to E.164
    if seen_masked:
        raise MappingError(field, "the channel sent a masked phone number; enable its decrypt/privacy-number API")
    raise MappingError(field, "missing")


def strip_region_prefix(detail: str | None, *parts: str | None) -> str | None:
    """Channels often repeat the region at the start of the street address ('浙江省杭州市萧山区北干街道…'
    with province/city/district also sent separately); drop the repeats so the text is said once."""
    if not detail:
        return detail
    d = detail.replace(" ", "")
    changed = True
    while changed:
        changed = False
        for p in parts:
            if not p:
                continue
            for form in sorted({p, p.rstrip("省市区县"), _short_region(p)}, key=len, reverse=True):
                if form and len(form) >= 2 and d.startswith(form):
                    d = d[len(form):]
                    changed = True
                    break
    return d or None


def dedupe_repeated_prefix(raw: str | None) -> str | None:
    """'浙江省宁波市鄞州区浙江省宁波市鄞州区首南街道…' (region typed twice, as ERPs and pasted text
    have it) → said once. Only an immediate repeat of at least four characters is dropped."""
    if not raw:
        return raw
    t = raw.replace(" ", "")
    for k in range(len(t) // 2, 3, -1):
        if t[k:2 * k] == t[:k]:
            return t[k:]
    return t


def _short_region(name: str) -> str:
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def address(province: Any, city: Any, district: Any, detail: Any, *, field: str) -> dict[str, str]:
    """An ``AddressIn`` payload from a channel's four address fields: placeholders dropped,
    the detail's repeated region prefix removed; a missing province is left to the resolver
    (which finds it from the city or district)."""
    p, c, dist, det = text(province), text(city), text(district), text(detail)
    det = strip_region_prefix(det, p, c, dist)
    if c and p and c == p and c in ("市辖区", "县"):
        c = None
    if c in ("市辖区", "县"):
        c = None
    out = {k: v for k, v in (("province", p), ("city", c), ("district", dist), ("detail", det)) if v}
    if not (det or dist):
        raise MappingError(field, "no street address and no district")
    return out


# category keywords a product title may contain; longer keywords win
_CATEGORY_WORDS: dict[str, Category] = {c.value: c for c in Category} | {
    "发动机": Category.ENGINE_ASSEMBLY,
    "刹车皮": Category.BRAKE_PADS,
    "制动片": Category.BRAKE_PADS,
    "制动盘": Category.BRAKE_DISC,
    "机滤": Category.OIL_FILTER,
    "机油格": Category.OIL_FILTER,
    "空滤": Category.AIR_FILTER,
    "空气格": Category.AIR_FILTER,
    "润滑油": Category.ENGINE_OIL,
    "电瓶": Category.BATTERY,
    "雨刷": Category.WIPER,
    "大灯": Category.LIGHTING,
    "减震器": Category.SUSPENSION,
    "变速箱": Category.GEARBOX,
}


def category(explicit: Any, title: str) -> str:
    """The catalogue category: the channel's own category text when it sends one, else inferred
    from the product title ('博世刹车片 前轮' → 刹车片; '机油滤清器' beats '机油'); titles that name
    none fall back to 其他配件 (a person can still re-route; rejecting would lose the order)."""
    e = text(explicit)
    if e:
        return e
    t = normalize_text(title)
    for word in sorted(_CATEGORY_WORDS, key=len, reverse=True):
        if word in t:
            return _CATEGORY_WORDS[word].value
    return Category.ACCESSORY.value


_FITMENT_KEYS = ("适配车型", "适用车型", "车型")


def fitment(props: Any) -> str | None:
    """'适配车型:卡罗拉18款;颜色分类:前轮' (TOP sku_properties_name) or [{'name','value'}] specs → '卡罗拉18款'."""
    if isinstance(props, list):
        for p in props:
            if isinstance(p, dict) and text(p.get("name")) in _FITMENT_KEYS:
                return text(p.get("value"))
        return None
    t = text(props)
    if not t:
        return None
    for part in re.split(r"[;；]", t):
        k, sep, v = part.partition(":") if ":" in part else part.partition("：")
        if sep and k.strip() in _FITMENT_KEYS:
            return text(v)
    return None


def order_id_text(value: Any, field: str) -> str:
    t = text(value)
    if not t:
        raise MappingError(field, "missing")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", t):
        raise MappingError(field, f"not a usable order id: {t!r}")
    return t
