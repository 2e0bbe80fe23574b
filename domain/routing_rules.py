"""Routing rule sets (智能分单规则): the models, and the Excel workbook operations edit them in.

Operations own the rules, and they work in Excel, so the workbook is the source format: it is
parsed into a validated ``RuleSet`` (all errors at once, nothing half-imported) and stored as an
immutable version (store/rules.py); ``domain.routing`` evaluates it.

Workbook layout (``export_workbook`` writes it, ``parse_workbook`` reads it):

* Three sheets, by exact name: ``仓库规则`` (warehouse rules), ``快递公司`` (carriers),
  ``快递停运`` (carrier suspensions). Other sheets (e.g. ``说明``) are ignored.
* Row 1 holds the Chinese column titles, for people; row 2 the English column ids, for the parser.
  Columns are found by their row-2 id, so they may be reordered; titles are free text. Data starts
  on row 3; blank rows are skipped.
* Lists (provinces, cities, districts) are separated by ``,`` ``，`` ``、`` ``;`` or spaces; a blank
  condition cell means "any". Places are official full names (浙江省, 杭州市, 萧山区); a municipality's
  city is the municipality itself (上海市), as cleansing resolves it.
* Warehouse rules are evaluated by ascending ``priority`` (unique), first hit wins. A line condition
  (``line_unit_price_gt`` and/or ``line_category``) needs ONE line satisfying both. A rule with a
  blank ``warehouse`` sends matching orders to manual routing review.
* Carrier ``provinces`` ``*`` (or 全国) means nationwide. Freight = ``first_weight_price`` for the first kg +
  ``price_per_kg`` for each further started kg. Weight limits are inclusive.
* Times without a timezone are China time (UTC+08:00); ``until`` blank means open-ended; a
  suspension covers ``from <= t < until``. A suspension's blank city/district covers the whole
  province/city.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain import divisions
from domain.catalogue import Category, normalize_text, parse_category

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST in China, a fixed offset is exact
SHEET_RULES, SHEET_CARRIERS, SHEET_SUSPENSIONS = "仓库规则", "快递公司", "快递停运"

PROVINCES = frozenset(
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 江西省 山东省 "
    "河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 台湾省 内蒙古自治区 "
    "广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区 香港特别行政区 澳门特别行政区".split()
)


# ---------------------------------------------------------------- official names


def _divisions() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(province → cities, city → districts): today's divisions (domain/divisions.py), named as a
    resolved order carries them, so a rule can only name a place an order can be in."""
    cities, districts = divisions.place_names()
    return {p: cities.get(p, frozenset()) for p in PROVINCES}, districts


def _former(name: str, city: str | None = None) -> str:
    """'; 已撤并 merged/renamed: use 上城区, 钱塘区' when the name is a former one."""
    now = divisions.successors(name, city)
    return f"；该区划已撤销或更名，请改用现名 former name, now {'、'.join(now)}" if now else ""


def _check_province(name: str) -> str:
    if name not in PROVINCES:
        hint = next((p for p in sorted(PROVINCES) if p.startswith(name[:2])), None) if name else None
        raise ValueError(f"未知省份 unknown province {name!r}" + (f"; use the official full name, e.g. {hint}" if hint else ""))
    return name


def _split(value: Any) -> Any:
    """'浙江省，江苏省 上海市' → ['浙江省', '江苏省', '上海市']; blank → []."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p for p in re.split(r"[,，、;；\s]+", normalize_text(value)) if p]
    return value


NameList = Annotated[list[str], BeforeValidator(_split)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Weight = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=3)]
Code = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$")]


def _upper(v: Any) -> Any:
    return normalize_text(v).upper() if isinstance(v, str) else v


class ShipMode(StrEnum):
    DIRECT = "direct"  # 直发: our own warehouse ships
    CLOUD = "cloud"  # 云仓: third-party cloud warehouse

    @classmethod
    def _missing_(cls, value: object) -> ShipMode | None:
        return {"直发": cls.DIRECT, "云仓": cls.CLOUD}.get(str(value).strip()) or next(
            (m for m in cls if m.value == str(value).strip().lower()), None
        )


# ---------------------------------------------------------------- models


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)


class WarehouseRule(_Row):
    rule_id: Annotated[Code, BeforeValidator(_upper)]
    priority: int = Field(ge=1, description="evaluation order, ascending; first hit wins")
    provinces: NameList = []
    cities: NameList = []
    districts: NameList = []
    min_amount: Money | None = Field(default=None, description="goods amount ≥ this (yuan)")
    line_unit_price_gt: Money | None = Field(default=None, description="a line's unit price > this (yuan)")
    line_category: Category | None = Field(default=None, description="a line of this category")
    warehouse: Annotated[Code | None, BeforeValidator(_upper)] = Field(default=None, description="blank → review")
    ship_mode: ShipMode | None = Field(default=None, validate_default=True)
    note: str = ""

    @field_validator("provinces")
    @classmethod
    def _provinces(cls, v: list[str]) -> list[str]:
        return [_check_province(p) for p in v]

    @field_validator("cities")
    @classmethod
    def _cities(cls, v: list[str], info: ValidationInfo) -> list[str]:
        cities, _ = _divisions()
        provinces = info.data.get("provinces") or sorted(PROVINCES)
        known = set().union(*(cities[p] for p in provinces))
        for c in v:
            if c not in known:
                raise ValueError(f"未知城市 unknown city {c!r}" + (f" in {','.join(provinces)}" if info.data.get("provinces") else "")
                                 + _former(c))
        return v

    @field_validator("districts")
    @classmethod
    def _districts(cls, v: list[str], info: ValidationInfo) -> list[str]:
        cities, districts = _divisions()
        scope = info.data.get("cities") or sorted(set().union(*(cities[p] for p in (info.data.get("provinces") or PROVINCES))))
        known = set().union(*(districts.get(c, set()) for c in scope))
        for d in v:
            if d not in known:
                city = scope[0] if len(scope) == 1 else None
                raise ValueError(f"未知区县 unknown district {d!r}" + (f" in {','.join(scope)}" if info.data.get("cities") else "")
                                 + _former(d, city))
        return v

    @field_validator("line_category", mode="before")
    @classmethod
    def _category(cls, v: Any) -> Any:
        return parse_category(v) if isinstance(v, str) and v.strip() else v

    @field_validator("ship_mode")
    @classmethod
    def _ship_mode(cls, v: ShipMode | None, info: ValidationInfo) -> ShipMode | None:
        if info.data.get("warehouse") and v is None:
            raise ValueError("发货方式必填 ship mode required when a warehouse is given: direct (直发) or cloud (云仓)")
        if not info.data.get("warehouse") and v is not None and "warehouse" in info.data:
            raise ValueError("没有仓库时不填发货方式 leave ship mode blank when the rule sends to review")
        return v

    def describe(self) -> str:
        """The rule's conditions in words, for reasons and the console."""
        parts = []
        place = "".join(
            ",".join(xs) if len(xs) < 5 else f"{','.join(xs[:4])}…" for xs in (self.provinces, self.cities, self.districts) if xs
        )
        parts.append(place or "任意地区 any region")
        if self.min_amount is not None:
            parts.append(f"订单金额 amount ≥ {self.min_amount}")
        if self.line_unit_price_gt is not None or self.line_category is not None:
            bits = [f"单价 unit price > {self.line_unit_price_gt}" if self.line_unit_price_gt is not None else "",
                    f"品类 category {self.line_category.value}" if self.line_category else ""]
            parts.append("某行 a line with " + " & ".join(b for b in bits if b))
        target = f"{self.warehouse} ({self.ship_mode.value})" if self.warehouse and self.ship_mode else "人工审核 manual review"
        return f"{' 且 and '.join(parts)} → {target}"


class Carrier(_Row):
    code: Annotated[Code, BeforeValidator(_upper)]
    name: str = Field(min_length=1, max_length=64)
    provinces: NameList = Field(min_length=1, description="'*' = nationwide")
    first_weight_price: Money = Field(description="首重: the first kg (yuan)")
    price_per_kg: Money = Field(description="续重: each further started kg (yuan)")
    sla_days: int = Field(ge=0, le=60)
    min_weight_kg: Weight = Decimal("0")
    max_weight_kg: Weight | None = None

    @field_validator("provinces")
    @classmethod
    def _provinces(cls, v: list[str]) -> list[str]:
        v = ["*" if p == "全国" else p for p in v]
        if "*" in v:
            if len(v) > 1:
                raise ValueError("'*' (全国 nationwide) stands alone")
            return v
        return [_check_province(p) for p in v]

    @field_validator("min_weight_kg", mode="before")
    @classmethod
    def _zero(cls, v: Any) -> Any:
        return Decimal("0") if v is None else v

    @field_validator("max_weight_kg")
    @classmethod
    def _max(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        lo = info.data.get("min_weight_kg")
        if v is not None and lo is not None and v < lo:
            raise ValueError(f"最大重量小于最小重量 max weight {v} is below min weight {lo}")
        return v

    def serves(self, province: str) -> bool:
        return "*" in self.provinces or province in self.provinces

    def freight(self, weight_kg: Decimal) -> Decimal:
        """First kg at the first-weight price, each further started kg at the per-kg price."""
        extra = max(Decimal(0), weight_kg.to_integral_value(rounding=ROUND_CEILING) - 1)
        return (self.first_weight_price + self.price_per_kg * extra).quantize(Decimal("0.01"))


def _aware(v: Any) -> Any:
    if isinstance(v, str) and v.strip():
        try:
            v = datetime.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(f"不是时间 not a date/time: {v!r}; use an Excel date or 2026-01-01 08:00") from None
    if isinstance(v, datetime) and v.tzinfo is None:
        v = v.replace(tzinfo=CHINA_TZ)
    return v


class CarrierSuspension(_Row):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, populate_by_name=True)
    carrier: Annotated[Code, BeforeValidator(_upper)]
    province: str
    city: str | None = None
    district: str | None = None
    valid_from: Annotated[datetime, BeforeValidator(_aware)] = Field(alias="from")
    until: Annotated[datetime | None, BeforeValidator(_aware)] = None
    reason: str = ""

    @field_validator("province")
    @classmethod
    def _province(cls, v: str) -> str:
        return _check_province(v)

    @field_validator("city")
    @classmethod
    def _city(cls, v: str | None, info: ValidationInfo) -> str | None:
        p = info.data.get("province")
        if v and p and v not in _divisions()[0][p]:
            raise ValueError(f"未知城市 unknown city {v!r} in {p}" + _former(v))
        return v or None

    @field_validator("district")
    @classmethod
    def _district(cls, v: str | None, info: ValidationInfo) -> str | None:
        if not v:
            return None
        city = info.data.get("city")
        if not city:
            raise ValueError("停运到区县须填城市 a district suspension needs its city")
        if v not in _divisions()[1].get(city, set()):
            raise ValueError(f"未知区县 unknown district {v!r} in {city}" + _former(v, city))
        return v

    @field_validator("until")
    @classmethod
    def _until(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("valid_from")
        if v is not None and start is not None and v <= start:
            raise ValueError("结束时间须晚于开始时间 until must be after from")
        return v

    @property
    def place(self) -> str:
        return f"{self.province}{'' if self.city in (None, self.province) else self.city}{self.district or ''}"

    def covers(self, province: str, city: str, district: str, at: datetime) -> bool:
        return (
            self.province == province
            and self.city in (None, city)
            and self.district in (None, district)
            and self.valid_from <= at
            and (self.until is None or at < self.until)
        )


def _cross_problems(rules: Sequence[Any], carriers: Sequence[Any], suspensions: Sequence[Any],
                    row: Callable[[str, int], object] = lambda sheet, i: f"#{i + 1}",
                    check_refs: bool = True) -> list[tuple[str, int, str, str]]:
    """Checks across rows: (sheet, index, field, message) for each problem; ``row`` names a row. The
    rows are models, or a bad row's raw keys (a SimpleNamespace) when checking a workbook."""
    out: list[tuple[str, int, str, str]] = []
    for sheet, rows, field in ((SHEET_RULES, rules, "rule_id"), (SHEET_RULES, rules, "priority"), (SHEET_CARRIERS, carriers, "code")):
        seen: dict[Any, int] = {}
        for i, item in enumerate(rows):
            key = getattr(item, field, None)
            if key is None:
                continue
            if key in seen:
                out.append((sheet, i, field, f"重复 duplicate {field} {key!r} (also on row {row(sheet, seen[key])})"))
            seen.setdefault(key, i)
    codes = {c.code for c in carriers}
    for i, s in enumerate(suspensions if check_refs else ()):
        if s.carrier not in codes:
            out.append((SHEET_SUSPENSIONS, i, "carrier", f"未知快递公司 unknown carrier {s.carrier!r}; known: {', '.join(sorted(codes))}"))
    return out


class RuleSet(BaseModel):
    """One complete, consistent set of routing rules; ``version`` is set once it is stored."""

    model_config = ConfigDict(frozen=True)
    warehouse_rules: list[WarehouseRule]
    carriers: list[Carrier]
    suspensions: list[CarrierSuspension] = []
    version: int | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        problems = _cross_problems(self.warehouse_rules, self.carriers, self.suspensions)
        if problems:
            raise ValueError("; ".join(f"{s} {f} #{i + 1}: {m}" for s, i, f, m in problems))
        return self

    @property
    def ordered_rules(self) -> list[WarehouseRule]:
        return sorted(self.warehouse_rules, key=lambda r: r.priority)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> RuleSet:
        copy = super().model_copy(update=update, deep=deep)
        if update and set(update) - {"version"}:
            copy.__dict__.pop("fingerprint", None)  # content changed: the cached fingerprint is stale
        return copy

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the content (not the version): keys compiled decisions."""
        return hashlib.sha256(self.model_dump_json(by_alias=True).encode()).hexdigest()


# ---------------------------------------------------------------- workbook I/O


class CellError(BaseModel):
    sheet: str
    row: int | None = None  # Excel row number (1-based)
    column: str | None = None  # Excel column letter
    field: str | None = None  # the column id from header row 2
    message: str

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.column or ''}{self.row or ''}"
        return f"{where}{f' [{self.field}]' if self.field else ''}: {self.message}"


class RulesWorkbookError(ValueError):
    """Every problem in the workbook, each naming sheet, row and column."""

    def __init__(self, errors: list[CellError]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the rules workbook:\n" + "\n".join(f"  {e}" for e in errors))


# sheet → (model, [(column id, Chinese title, width)])
_SHEETS: dict[str, tuple[type[_Row], list[tuple[str, str, int]]]] = {
    SHEET_RULES: (WarehouseRule, [
        ("rule_id", "规则编号", 10), ("priority", "顺序", 8), ("provinces", "省份", 30), ("cities", "城市", 14),
        ("districts", "区县", 14), ("min_amount", "订单金额≥(元)", 14), ("line_unit_price_gt", "单价>(元)", 12),
        ("line_category", "包含品类", 14), ("warehouse", "仓库", 12), ("ship_mode", "发货方式", 12), ("note", "说明", 40),
    ]),
    SHEET_CARRIERS: (Carrier, [
        ("code", "快递编码", 10), ("name", "快递公司", 14), ("provinces", "服务省份(*=全国)", 30),
        ("first_weight_price", "首重价格(元)", 12), ("price_per_kg", "续重单价(元/kg)", 14), ("sla_days", "时效(天)", 10),
        ("min_weight_kg", "最小重量(kg)", 12), ("max_weight_kg", "最大重量(kg)", 12),
    ]),
    SHEET_SUSPENSIONS: (CarrierSuspension, [
        ("carrier", "快递编码", 10), ("province", "省份", 12), ("city", "城市", 12), ("district", "区县", 12),
        ("from", "开始时间", 20), ("until", "结束时间", 20), ("reason", "原因", 40),
    ]),
}
_REQUIRED = {
    SHEET_RULES: {"rule_id", "priority", "warehouse", "ship_mode"},
    SHEET_CARRIERS: {"code", "name", "provinces", "first_weight_price", "price_per_kg", "sla_days"},
    SHEET_SUSPENSIONS: {"carrier", "province", "from"},
}
_DECIMAL_FIELDS = {"min_amount", "line_unit_price_gt", "first_weight_price", "price_per_kg", "min_weight_kg", "max_weight_kg"}
_FRIENDLY = {
    "decimal_parsing": "不是数字 not a number", "decimal_type": "不是数字 not a number",
    "int_parsing": "不是整数 not a whole number", "int_from_float": "不是整数 not a whole number",
    "int_type": "不是整数 not a whole number", "missing": "必填 required",
    "decimal_max_places": "最多两位小数 at most 2 decimal places (money) / 3 (kg)",
    "datetime_from_date_parsing": "不是时间 not a date/time", "datetime_type": "不是时间 not a date/time",
    "enum": "取值无效 invalid value",
}


def _cell(value: Any, field: str) -> Any:
    if isinstance(value, str):
        value = value.strip() or None
    if isinstance(value, float) and field in _DECIMAL_FIELDS:
        return Decimal(repr(value))  # repr is the shortest round-trip form: 1999.99, not 1999.9899…
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field in _DECIMAL_FIELDS:
        return Decimal(value)
    return value


def _key(v: Any) -> Any:
    """A raw cell as a comparable key (for duplicate checks on rows that failed validation)."""
    return normalize_text(v).upper() if isinstance(v, str) else v


def _message(err: ErrorDetails) -> str:
    msg = _FRIENDLY.get(err["type"], "")
    if err["type"] == "value_error":
        return str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
    if not msg:
        msg = err["msg"]
    elif err["type"] == "enum":
        msg = f"{msg}: {err['msg']}"
    if err["type"] != "missing" and err.get("input") is not None:
        msg += f": {err['input']!r}"
    return msg


def _header(sheet: str, row2: tuple[Any, ...], errors: list[CellError]) -> dict[str, int] | None:
    """Column id → index from header row 2; None when required ids are missing."""
    from openpyxl.utils import get_column_letter

    columns = [c for c, _, _ in _SHEETS[sheet][1]]
    col_of: dict[str, int] = {}
    for j, v in enumerate(row2):
        cid, letter = normalize_text(str(v)) if v is not None else "", get_column_letter(j + 1)
        if cid and cid not in columns:
            errors.append(CellError(sheet=sheet, row=2, column=letter, field=cid,
                                    message=f"未知列 unknown column id; expected: {', '.join(columns)}"))
        elif cid in col_of:
            errors.append(CellError(sheet=sheet, row=2, column=letter, field=cid, message="重复列 duplicate column"))
        elif cid:
            col_of[cid] = j
    missing = [c for c in columns if c in _REQUIRED[sheet] and c not in col_of]
    if missing:
        errors.append(CellError(sheet=sheet, row=2, message=f"缺少列 missing column id(s) in header row 2: {', '.join(missing)}"))
        return None
    return col_of


def _rows(sheet: str, rows: list[tuple[Any, ...]], col_of: dict[str, int],
          errors: list[CellError]) -> list[tuple[int, Any, bool]]:
    """(Excel row, model or raw keys, valid) for each non-blank data row; bad cells go to ``errors``."""
    from openpyxl.utils import get_column_letter

    model, out = _SHEETS[sheet][0], list[tuple[int, Any, bool]]()
    for r, values in enumerate(rows, start=3):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        raw = {cid: _cell(values[j] if j < len(values) else None, cid) for cid, j in col_of.items()}
        try:
            out.append((r, model.model_validate({k: v for k, v in raw.items() if v is not None}), True))
        except ValidationError as exc:
            out.append((r, SimpleNamespace(**{k: _key(v) for k, v in raw.items()}), False))
            for err in exc.errors():
                field = {"valid_from": "from"}.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else None
                col = get_column_letter(col_of[field] + 1) if field in col_of else None
                errors.append(CellError(sheet=sheet, row=r, column=col, field=field, message=_message(err)))
    return out


def parse_workbook(source: bytes | str | Path | BinaryIO) -> RuleSet:
    """A validated RuleSet, or RulesWorkbookError with every problem found (nothing partial)."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    try:
        wb = openpyxl.load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RulesWorkbookError([CellError(sheet="-", message=f"不是 xlsx 文件 not an .xlsx workbook: {exc}")]) from exc
    errors: list[CellError] = []
    cols: dict[str, dict[str, int]] = {}
    found: dict[str, list[tuple[int, Any, bool]]] = {sh: [] for sh in _SHEETS}
    for sheet in _SHEETS:
        if sheet not in wb.sheetnames:
            errors.append(CellError(sheet=sheet, message=f"缺少工作表 missing sheet {sheet!r} (have: {', '.join(wb.sheetnames)})"))
            continue
        rows = list(wb[sheet].iter_rows(values_only=True))
        col_of = _header(sheet, rows[1] if len(rows) > 1 else (), errors)
        if col_of is not None:
            cols[sheet] = col_of
            found[sheet] = _rows(sheet, rows[2:], col_of, errors)
    wb.close()
    # duplicates are checked over every row (a bad row's id still counts), references over valid rows
    found[SHEET_SUSPENSIONS] = [t for t in found[SHEET_SUSPENSIONS] if t[2]]
    carriers_ok = SHEET_CARRIERS in cols and not any(e.sheet == SHEET_CARRIERS and (e.row or 0) <= 2 for e in errors)

    def row_of(sh: str, k: int) -> int:
        return found[sh][k][0]

    items = [[item for _, item, _ in found[sh]] for sh in (SHEET_RULES, SHEET_CARRIERS, SHEET_SUSPENSIONS)]
    for sheet, i, field, msg in _cross_problems(items[0], items[1], items[2], row_of, carriers_ok):
        col = get_column_letter(cols[sheet][field] + 1)
        errors.append(CellError(sheet=sheet, row=row_of(sheet, i), column=col, field=field, message=msg))
    if errors:
        raise RulesWorkbookError(errors)
    return RuleSet(warehouse_rules=items[0], carriers=items[1], suspensions=items[2])


_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _reproducible(data: bytes) -> bytes:
    """Same rules → same bytes (and sha256): pin the zip entry times and the document timestamps."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", body)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _excel_value(v: Any) -> Any:
    if isinstance(v, list):
        return ",".join(v) or None
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, datetime):
        return v.astimezone(CHINA_TZ).replace(tzinfo=None)
    return v if v != "" else None


def export_workbook(rule_set: RuleSet) -> bytes:
    """The rule set as an .xlsx in the layout parse_workbook reads (byte-reproducible)."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    wb.remove(wb.worksheets[0])  # the new workbook's default sheet
    rows: dict[str, Sequence[_Row]] = {SHEET_RULES: rule_set.ordered_rules, SHEET_CARRIERS: rule_set.carriers,
                                       SHEET_SUSPENSIONS: rule_set.suspensions}
    for sheet, (_, columns) in _SHEETS.items():
        ws = wb.create_sheet(sheet)
        ws.append([title for _, title, _ in columns])
        ws.append([cid for cid, _, _ in columns])
        for j, (_, _, width) in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(j)].width = width
            ws.cell(1, j).font = Font(bold=True)
            ws.cell(1, j).fill = PatternFill("solid", fgColor="DDEBF7")
            ws.cell(2, j).font = Font(italic=True, color="808080")
        for row in rows[sheet]:
            data = row.model_dump(by_alias=True)
            ws.append([_excel_value(data[cid]) for cid, _, _ in columns])
        ws.freeze_panes = "A3"
        letters = {cid: get_column_letter(j) for j, (cid, _, _) in enumerate(columns, start=1)}
        choice_lists: tuple[tuple[str, list[str]], ...] = (("ship_mode", [m.value for m in ShipMode]),
                                                            ("line_category", [c.value for c in Category]))
        for cid, choices in choice_lists:
            if cid in letters:
                dv = DataValidation(type="list", formula1=f'"{",".join(choices)}"', allow_blank=True)
                dv.add(f"{letters[cid]}3:{letters[cid]}1000")
                ws.add_data_validation(dv)
    help_ws = wb.create_sheet("说明")
    layout = (__doc__ or "")[(__doc__ or "").find("Workbook layout"):]
    for line in layout.splitlines():
        help_ws.append([line])
    help_ws.column_dimensions["A"].width = 110
    buf = io.BytesIO()
    wb.save(buf)
    return _reproducible(buf.getvalue())


# ---------------------------------------------------------------- diff


class RowChange(BaseModel):
    key: str
    changes: dict[str, tuple[Any, Any]]  # column id → (old, new)


class SheetDiff(BaseModel):
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[RowChange] = []


class RuleSetDiff(BaseModel):
    old_version: int | None = None
    new_version: int | None = None
    sheets: dict[str, SheetDiff]

    @property
    def empty(self) -> bool:
        return not any(d.added or d.removed or d.changed for d in self.sheets.values())


def _keyed(rule_set: RuleSet, sheet: str) -> dict[str, dict[str, Any]]:
    if sheet == SHEET_RULES:
        return {r.rule_id: r.model_dump(mode="json", by_alias=True) for r in rule_set.ordered_rules}
    if sheet == SHEET_CARRIERS:
        return {c.code: c.model_dump(mode="json", by_alias=True) for c in rule_set.carriers}
    return {
        f"{s.carrier}@{s.place}@{_excel_value(s.valid_from):%Y-%m-%d %H:%M}": s.model_dump(mode="json", by_alias=True)
        for s in rule_set.suspensions
    }


def diff_rule_sets(old: RuleSet, new: RuleSet) -> RuleSetDiff:
    """Rows added, removed and changed (column by column) per sheet, keyed by rule id / carrier code /
    carrier@place@from."""
    sheets = {}
    for sheet in _SHEETS:
        a, b = _keyed(old, sheet), _keyed(new, sheet)
        sheets[sheet] = SheetDiff(
            added=[b[k] for k in b if k not in a],
            removed=[a[k] for k in a if k not in b],
            changed=[
                RowChange(key=k, changes={f: (a[k].get(f), b[k].get(f)) for f in b[k] if a[k].get(f) != b[k].get(f)})
                for k in b
                if k in a and a[k] != b[k]
            ],
        )
    return RuleSetDiff(old_version=old.version, new_version=new.version, sheets=sheets)
