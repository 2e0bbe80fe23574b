"""Helpers every channel mapper shares: errors, times, money, phones, regions and categories.

Mappers turn a channel's payload into a canonical ``OrderSubmission`` *payload* (a dict that
``api.intake``-style acceptance validates and cleanses). They only do what is channel-specific —
field names, units, time zones, repeated region prefixes, placeholder values — and leave the real
cleansing (official region names, E.164 phones, catalogue codes) to ``domain.cleansing``.

A ``MappingError``'s reason is shown to people (the console's 拒收记录, ``GET /v1/rejections/{id}``,
the mini-program's 422): Chinese first, the English after it in parentheses, the value received quoted
where it helps (an amount, a time — not an address or a name: ``kind`` says only what it is), and
never a Python exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.catalogue import Category, normalize_text

CHINA_TZ = timezone(timedelta(hours=8))
PLACEHOLDERS = {"", "-", "--", "无", "null", "none", "n/a", "未知", "其他"}

MISSING = "缺少此字段 (missing)"


class MappingError(ValueError):
    """The payload cannot be mapped; ``field`` names the channel's field, ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def shown(value: Any, limit: int = 60) -> str:
    """A received value as a reason quotes it: its repr, cut to ``limit`` characters."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def kind(value: Any) -> str:
    """What a received value is, in Chinese — said instead of the value where the value may be personal
    data (an address or a name sent where an object belongs)."""
    if value is None:
        return "空值"
    for t, name in ((bool, "布尔值"), ((int, float), "数字"), (str, "文本"), (list, "数组"), (dict, "对象")):
        if isinstance(value, t):
            return name
    return "其他值"


def received(value: Any) -> str:
    """``收到 '26.8元'`` for a scalar (an amount, a time, a quantity); ``收到的是数组`` for a list or an object."""
    return f"收到 {shown(value)}" if value is None or isinstance(value, (str, int, float)) else f"收到的是{kind(value)}"


def not_an_object(value: Any) -> str:
    return f"应为 JSON 对象, 收到的是{kind(value)} (not an object)"


def require(d: Any, *path: str, at: str | None = None) -> Any:
    """d[path[0]][path[1]]…, or MappingError naming the dotted path — after ``at``, the name of ``d``
    itself when it is part of a larger payload (``require(item, "qty", at="items[0]")`` → ``items[0].qty``)."""

    def name(n: int) -> str:
        dotted = ".".join(path[:n])
        return f"{at}.{dotted}" if at and dotted else (at or dotted)

    cur = d
    for i, key in enumerate(path):
        if not isinstance(cur, dict) and (i > 0 or at):
            raise MappingError(name(i), not_an_object(cur))
        if not isinstance(cur, dict) or cur.get(key) in (None, ""):
            raise MappingError(name(i + 1), MISSING)
        cur = cur[key]
    return cur


def objects(value: Any, field: str) -> list[dict[str, Any]]:
    """A payload's list of items, each an object: MappingError naming the list, or the entry that is
    not an object (``sku_order_list[1]``), where a mapper would otherwise fail on ``.get``."""
    if not isinstance(value, list):
        raise MappingError(field, f"应为商品明细的 JSON 数组, 收到的是{kind(value)} (not a list of items)")
    for i, v in enumerate(value):
        if not isinstance(v, dict):
            raise MappingError(f"{field}[{i}]", f"每条商品明细应为 JSON 对象, 收到的是{kind(v)} (not an object)")
    return value


def integer(value: Any, field: str) -> int:
    """A quantity as channels send it (2, "2"; a float is cut, as ``int`` cuts it)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise MappingError(field, f"应为整数数量, {received(value)} (not a whole number)") from None


def text(value: Any) -> str | None:
    """Channel text, full-width folded and spaces collapsed; placeholders ('-', '无', 'null') → None."""
    if value is None:
        return None
    t = normalize_text(str(value))
    return None if t.lower() in PLACEHOLDERS else t


def _not_a_time(value: Any) -> str:
    return f"应为时间, 例如 2026-11-27 10:00:00 或 unix 秒, {received(value)} (not a time)"


def china_time(value: Any, field: str) -> str:
    """ISO-8601 with an offset from a channel time: '2026-11-27 10:00:00' (China local, as TOP and
    Kingdee send it), an ISO string, or unix seconds/milliseconds."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        try:
            n = float(value)
        except ValueError:  # '²'.isdigit()
            raise MappingError(field, _not_a_time(value)) from None
        if n > 1e12:
            n /= 1000
        try:
            return datetime.fromtimestamp(n, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise MappingError(field, f"时间超出范围, {received(value)} (not a time: out of range)") from None
    if isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            raise MappingError(field, _not_a_time(value)) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=CHINA_TZ)
        return dt.isoformat()
    if value is None or isinstance(value, str):
        raise MappingError(field, MISSING)
    raise MappingError(field, _not_a_time(value))


def yuan(value: Any, field: str) -> str:
    """Decimal yuan text from a yuan string/number ('268.00', 268)."""
    try:
        return str(Decimal(str(value).strip()).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):  # not a number, or too large to keep to the fen
        raise MappingError(field, f"应为以元为单位的金额, {received(value)} (not an amount)") from None


def fen_int(value: Any, field: str) -> int:
    """Integer fen (Douyin, WeChat pay send 分) as the channel sent it (a float is cut, as ``int`` cuts it)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise MappingError(field, f"应为以分为单位的整数金额, {received(value)} (not an amount in fen)") from None


def fen(value: Any, field: str) -> str:
    """Decimal yuan text from integer fen (Douyin, WeChat pay send 分)."""
    n = fen_int(value, field)
    try:
        return str((Decimal(n) / 100).quantize(Decimal("0.01")))
    except InvalidOperation:  # too many digits to keep to the fen
        raise MappingError(field, f"金额过大, {received(value)} (not an amount in fen: too large)") from None


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
        raise MappingError(field, "渠道发来的是打码手机号, 请开通渠道的解密/隐私号接口 "
                                  "(the channel sent a masked phone number; enable its decrypt/privacy-number API)")
    raise MappingError(field, "缺少收货人电话 (missing)")


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
        raise MappingError(field, "没有街道地址, 也没有区县 (no street address and no district)")
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
        raise MappingError(field, "缺少订单号 (missing)")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", t):
        raise MappingError(field, f"订单号只能由字母、数字和 _ . : - 组成, 最长 64 位, 收到 {shown(t)} "
                                  "(not a usable order id)")
    return t
