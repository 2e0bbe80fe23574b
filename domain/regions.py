"""The regions (大区) of China, one table for every breakdown and rule keyed by region: the dashboard's
aftersales by region, the health index, and the default routing rules (华东 → 杭州云仓).

The national division into seven geographic regions (华东 includes 山东, 江西 and 福建), plus 港澳台.
A province outside the table (or no province: an unresolved address) is in 未知.
"""

from __future__ import annotations

REGIONS: dict[str, tuple[str, ...]] = {
    "华东": ("上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省"),
    "华南": ("广东省", "广西壮族自治区", "海南省"),
    "华北": ("北京市", "天津市", "河北省", "山西省", "内蒙古自治区"),
    "华中": ("河南省", "湖北省", "湖南省"),
    "西南": ("重庆市", "四川省", "贵州省", "云南省", "西藏自治区"),
    "西北": ("陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区"),
    "东北": ("辽宁省", "吉林省", "黑龙江省"),
    "港澳台": ("香港特别行政区", "澳门特别行政区", "台湾省"),
}
UNKNOWN = "未知"
REGION_NAMES: tuple[str, ...] = (*REGIONS, UNKNOWN)  # in display order

_PROVINCE_REGION = {p: r for r, ps in REGIONS.items() for p in ps}


def region_of(province: str | None) -> str:
    return _PROVINCE_REGION.get(province or "", UNKNOWN)


def provinces_of(region: str) -> list[str]:
    """The region's provinces by official full name; KeyError for an unknown region."""
    return list(REGIONS[region])
