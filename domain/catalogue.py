"""Enumerations where free text would be ambiguous: part categories and vehicle fitment.

The field's lesson: '丰田卡罗拉2018款' and '卡罗拉18款' are the same car; a hub that stores the
text verbatim cannot route, risk-check or reconcile on it. Channels send text; we store the
catalogue code.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from domain import labels


class Category(StrEnum):
    ENGINE_ASSEMBLY = "发动机总成"
    BRAKE_PADS = "刹车片"
    BRAKE_DISC = "刹车盘"
    OIL_FILTER = "机油滤清器"
    AIR_FILTER = "空气滤清器"
    ENGINE_OIL = "机油"
    SPARK_PLUG = "火花塞"
    TYRE = "轮胎"
    BATTERY = "蓄电池"
    WIPER = "雨刮"
    LIGHTING = "车灯"
    SUSPENSION = "悬挂件"
    GEARBOX = "变速箱总成"
    ACCESSORY = "其他配件"

    @property
    def label(self) -> str:
        return labels.category(self.name)


# aliases a channel might send for a category
_CATEGORY_ALIASES: dict[str, Category] = {
    "发动机": Category.ENGINE_ASSEMBLY,
    "engine": Category.ENGINE_ASSEMBLY,
    "engine_assembly": Category.ENGINE_ASSEMBLY,
    "刹车皮": Category.BRAKE_PADS,
    "brake_pads": Category.BRAKE_PADS,
    "机滤": Category.OIL_FILTER,
    "oil_filter": Category.OIL_FILTER,
    "空滤": Category.AIR_FILTER,
    "润滑油": Category.ENGINE_OIL,
    "电瓶": Category.BATTERY,
    "雨刷": Category.WIPER,
    "大灯": Category.LIGHTING,
    "变速箱": Category.GEARBOX,
    "其他": Category.ACCESSORY,
}


def parse_category(text: str) -> Category:
    """Category from its Chinese name, an alias or the enum name; ValueError names the choices."""
    t = normalize_text(text)
    for c in Category:
        if t in (c.value, c.name, c.name.lower()):
            return c
    if t in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[t]
    if t.lower() in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[t.lower()]
    raise ValueError(f"未知品类 {text!r}, 可选: {'、'.join(c.value for c in Category)} (unknown category)")


class VehicleModel(StrEnum):
    """Catalogue codes (make-model-year). The value is the display name."""

    TOYOTA_COROLLA_2018 = "丰田 卡罗拉 2018款"
    TOYOTA_CAMRY_2019 = "丰田 凯美瑞 2019款"
    HONDA_CIVIC_2020 = "本田 思域 2020款"
    HONDA_ACCORD_2018 = "本田 雅阁 2018款"
    VW_LAVIDA_2019 = "大众 朗逸 2019款"
    VW_PASSAT_2020 = "大众 帕萨特 2020款"
    VW_SAGITAR_2019 = "大众 速腾 2019款"
    NISSAN_SYLPHY_2020 = "日产 轩逸 2020款"
    BUICK_EXCELLE_2018 = "别克 英朗 2018款"
    BYD_HAN_2021 = "比亚迪 汉 2021款"
    GEELY_EMGRAND_2019 = "吉利 帝豪 2019款"
    BMW_3_2020 = "宝马 3系 2020款"
    AUDI_A4L_2019 = "奥迪 A4L 2019款"
    UNIVERSAL = "通用"

    @property
    def label(self) -> str:  # = the value; the label table is what people-facing code reads
        return labels.vehicle_model(self.name)


_MAKES = {
    "丰田": "TOYOTA", "toyota": "TOYOTA",
    "本田": "HONDA", "honda": "HONDA",
    "大众": "VW", "vw": "VW", "volkswagen": "VW",
    "日产": "NISSAN", "nissan": "NISSAN",
    "别克": "BUICK", "buick": "BUICK",
    "比亚迪": "BYD", "byd": "BYD",
    "吉利": "GEELY", "geely": "GEELY",
    "宝马": "BMW", "bmw": "BMW",
    "奥迪": "AUDI", "audi": "AUDI",
}
_MODELS: dict[str, tuple[str, str] | None] = {
    "卡罗拉": ("TOYOTA", "COROLLA"), "corolla": ("TOYOTA", "COROLLA"),
    "凯美瑞": ("TOYOTA", "CAMRY"), "camry": ("TOYOTA", "CAMRY"),
    "思域": ("HONDA", "CIVIC"), "civic": ("HONDA", "CIVIC"),
    "雅阁": ("HONDA", "ACCORD"), "accord": ("HONDA", "ACCORD"),
    "朗逸": ("VW", "LAVIDA"), "lavida": ("VW", "LAVIDA"),
    "帕萨特": ("VW", "PASSAT"), "passat": ("VW", "PASSAT"),
    "速腾": ("VW", "SAGITAR"), "sagitar": ("VW", "SAGITAR"),
    "轩逸": ("NISSAN", "SYLPHY"), "sylphy": ("NISSAN", "SYLPHY"),
    "英朗": ("BUICK", "EXCELLE"), "excelle": ("BUICK", "EXCELLE"),
    "汉": ("BYD", "HAN"), "han": ("BYD", "HAN"),
    "帝豪": ("GEELY", "EMGRAND"), "emgrand": ("GEELY", "EMGRAND"),
    "3系": ("BMW", "3"),
    "a4l": ("AUDI", "A4L"),
    # known models that are NOT in the catalogue; listed so a shorter keyword cannot claim them
    "汉兰达": None, "highlander": None,
}
_YEAR_FULL = re.compile(r"(?<!\d)(19|20)(\d{2})(?!\d)")
_YEAR_SHORT = re.compile(r"(?<!\d)(\d{2})\s*(?:款|年款|年)")


def normalize_text(text: str) -> str:
    """Full-width → half-width (NFKC), collapsed whitespace, trimmed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()


def parse_vehicle_model(text: str) -> VehicleModel:
    """Map '丰田卡罗拉2018款', '卡罗拉18款', 'TOYOTA_COROLLA_2018' … to one catalogue entry."""
    t = normalize_text(text)
    if not t:
        raise ValueError("车型为空 (vehicle model is empty)")
    for v in VehicleModel:
        if t in (v.value, v.name) or t.replace(" ", "") == v.value.replace(" ", ""):
            return v
    if t.lower() in ("通用", "universal", "全车型"):
        return VehicleModel.UNIVERSAL
    low = t.lower().replace(" ", "")
    found = None
    # longest model keyword first so '帕萨特' is not read as something shorter
    for kw in sorted(_MODELS, key=len, reverse=True):
        if kw in low:
            found = _MODELS[kw]
            low_rest = low.replace(kw, " ", 1)
            break
    if found is None:
        raise ValueError(f"车型 {text!r} 不在适配车型库中 (not in the fitment catalogue)")
    make, model = found
    for alias, m in _MAKES.items():
        if alias in low and m != make:
            raise ValueError(f"车型 {text!r} 的品牌与车系 {model.title()} 不符 (make does not match model)")
    year = None
    full = _YEAR_FULL.search(low_rest)
    short = _YEAR_SHORT.search(low_rest)
    if full:
        year = int(full.group(1) + full.group(2))
    elif short:
        year = 2000 + int(short.group(1))
    candidates = [v for v in VehicleModel if v.name.startswith(f"{make}_{model}_")]
    if year is not None:
        candidates = [v for v in candidates if v.name.endswith(str(year))]
    if len(candidates) != 1:
        raise ValueError(f"车型 {text!r} 的年款无法确定, 请写明年款, 如 卡罗拉2018款 (model year unknown)")
    return candidates[0]
