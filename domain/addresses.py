"""Where an address is: its official province, city and county-level unit (district) and the unit's
code, read offline against today's divisions (domain/divisions.py), or None when the text does not
pin down one district — unresolved is better than wrong, and a person decides.

The administrative part of an address comes first, level after level, each level optional:
province, city, county-level unit, town. Every way of reading that prefix against the division
table is tried; the readings that explain the most text win, and they must agree on one unit:

* a name in several places (西湖区: 杭州 and 南昌) without a parent that tells them apart → None;
* a short name (西湖, 浦东, 喀左) counts only where it ends as a place does (not 西湖大道, not the start
  of a town's name: 常德市石门桥镇 is 鼎城区's town, not 石门县);
* a former name means today's unit (临安市 → 临安区, 下城区 → 拱墅区), unless the old unit was split
  (江干区 → 上城区 or 钱塘区) and no town says which;
* a town confirms its district, or moves it from a district that ceded it (杭州余杭区南苑街道 →
  临平区, since 2021); a town never chooses between two districts on its own;
* a city without districts (东莞, 中山, 儋州, 嘉峪关) is its own unit: its town, when named, is what
  the order carries as district (广东省 东莞市 长安镇, code 441900);
* one unknown token in the prefix (a typo'd level: 浙江省杭洲市西湖区) may be skipped when what
  follows pins the district.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from domain import divisions
from domain.catalogue import normalize_text
from domain.divisions import Division
from domain.order import ResolvedAddress

_LABEL = re.compile(r"^(?:[【\[(（][^】\])）]{0,12}[】\])）])?(?:(?:收货|收件|送货|配送|详细|邮寄)?地址[:：]?)?(?:中华人民共和国|中国)?")
_SEPARATORS = frozenset(",，、/\\|-—_·.。;；:：()（）[]【】<>《》\"'“”‘’#")
_PLACEHOLDERS = ("自治区直辖县级行政区划", "省直辖县级行政区划", "省直辖行政区划", "市直辖行政区划", "市辖区", "直辖县")
# after a short name these words make it part of a street or a building, not a place: 中山路, 北京东路
_NOT_A_PLACE = ("路", "街", "大街", "大道", "道", "巷", "弄", "胡同", "东路", "西路", "南路", "北路", "中路",
                "公园", "广场", "大学", "学院", "大厦", "花园", "小区", "新村", "商场", "银行", "医院",
                "镇", "乡")  # 纳雍乡 is a township of 织金县, not 纳雍县
_LEVEL_CHARS = "省市区县旗"
_TYPO_TOKEN = re.compile(r"[\u4e00-\u9fff]{1,5}?[省市区县]")


@dataclass(frozen=True)
class _Reading:
    """One reading of the address's administrative prefix."""

    province: Division | None = None
    city: Division | None = None
    county: Division | None = None
    town: str | None = None
    town_unit: str | None = None  # the county (or district-less city) the town belongs to
    admin_end: int = 0  # where the detail starts
    end: int = 0  # how much text the reading explains (a town of a district counts, but stays in the detail)
    skips: int = 0  # unknown tokens skipped (a typo'd level: 杭洲市)
    old: tuple[str, str] | None = None  # (city, old county name) when the county was read by a former name

    @property
    def unit(self) -> Division | None:
        t = divisions.table()
        if self.town_unit:
            return t.by_code.get(self.town_unit)  # '?': the town contradicts the district
        if self.county is not None:
            return self.county
        if self.city is not None and not self.city.has_children:
            return self.city  # 东莞市, 嘉峪关市: the city is the county-level unit
        return None


def _skip(s: str, pos: int, r: _Reading) -> int:
    """Past separators and placeholder levels (北京市市辖区朝阳区)."""
    while pos < len(s):
        if s[pos] in _SEPARATORS:
            pos += 1
            continue
        hit = next((p for p in _PLACEHOLDERS if s.startswith(p, pos)), None)
        if hit and (r.province or r.city):
            pos += len(hit)
            continue
        repeated = next((d.name for d in (r.city, r.province) if d is not None and s.startswith(d.name, pos)), None)
        if repeated and r.county is None:  # 浙江省杭州市杭州市西湖区
            pos += len(repeated)
            continue
        break
    return pos


def _fits(r: _Reading, d: Division) -> bool:
    if d.level == divisions.PROVINCE:
        return r.province is None and r.city is None and r.county is None
    if d.level == divisions.CITY:
        return r.city is None and r.county is None and (r.province is None or d.province == r.province.name)
    if r.county is not None or r.town is not None:
        return False
    if r.city is not None:
        return d.parent == r.city.code
    return r.province is None or d.province == r.province.name


def _short_ok(t: divisions.Table, s: str, end: int, name: str) -> tuple[bool, int]:
    """May a short name end here, and how far does it reach (临安 + 市 → 临安市: the old county-level city)?"""
    rest = s[end:]
    if rest.startswith(_NOT_A_PLACE) and not _name_at(t, s, end):
        return False, end  # 中山路, but 唐山路南区 is 唐山 + 路南区
    if rest[:1] and rest[0] in _LEVEL_CHARS:
        if name + rest[0] in t.names or name + rest[0] in t.old_names:
            return True, end  # 长沙 + 市 is 长沙市 (read as such too), not 长沙县; 济南 + 市中区
        return True, end + 1
    return True, end


def _name_at(t: divisions.Table, s: str, pos: int) -> bool:
    return any(s[pos:pos + n] in t.names or s[pos:pos + n] in t.old_names for n in range(2, min(t.max_len, len(s) - pos) + 1))


_TOWN_WORD = re.compile(r"[\u4e00-\u9fff]{0,5}?(?:镇|乡|街道|苏木)")  # a town's name
# what may follow a county's short name: the end, a number or a separator, a street, an estate or a
# building (浙江杭州西湖文三路, 深圳南山科技园, 广州天河珠江新城); anything else may be a longer proper
# noun that only begins with it (宝鸡太白山旅游区, 东营农业高新技术产业示范区)
_AFTER_SHORT = re.compile(
    r"$|[^\u4e00-\u9fff]|(?:(?![省市区县镇乡旗])[\u4e00-\u9fff]){1,8}?(?:路|街|大道|巷|弄|胡同|道|园区|园|苑|城|湾|府|村|社区|小区|花园|公寓|"
    r"大厦|广场|中心|市场|商场|大楼|酒店|医院|学校|小学|中学|大学|学院|公司|厂|号)"
)


def _own_towns(t: divisions.Table, county: Division) -> set[str]:
    """The county's towns, and those of the districts it ceded towns to (余杭区: 临平区's too)."""
    own = set(t.towns.get(county.code, {}))
    for receiver in divisions.CEDED.get((county.city, county.name), ()):
        own |= set(next((t.towns.get(c.code, {}) for c in t.counties_of_city(county.parent) if c.name == receiver), {}))
    return own


def _county_ends(t: divisions.Table, s: str, start: int, end: int, county: Division, short: bool) -> bool:
    """Does a county's name really end here? Not when it begins the name of a town that is not one of
    its own (绵阳市江油关镇 is 平武县's 江油关镇, 常德市石门桥镇 鼎城区's, 临汾市古县乡 蒲县's), nor, for a
    short name, when what follows is not a street, a building or a place name."""
    towns = t.towns_under.get(county.parent, frozenset())
    if any(s[start:start + n] in towns for n in range(end - start + 1, min(12, len(s) - start) + 1)):
        return False
    if _name_at(t, s, end) or any(s.startswith(n, end) for n in _own_towns(t, county)):
        return True
    own_town_bases = {re.sub(r"(街道|民族乡|镇|乡)$", "", n) for n in t.towns.get(county.code, {})}
    if short and any(len(b) >= 2 and s.startswith(b, end) for b in own_town_bases):
        return True  # 上海浦东张江: 张江镇
    if not short:
        return not s.startswith(("镇", "乡", "街道", "苏木"), end)  # 古县 + 乡: 古县乡 is a town
    return _TOWN_WORD.match(s, end) is None and _AFTER_SHORT.match(s, end) is not None


def _extensions(t: divisions.Table, s: str, r: _Reading, pos: int) -> list[_Reading]:
    out: list[_Reading] = []
    for n in range(min(t.max_len, len(s) - pos), 1, -1):
        word = s[pos:pos + n]
        for level, code, short in t.names.get(word, ()):
            d = t.by_code[code]
            if not _fits(r, d):
                continue
            ok, end = _short_ok(t, s, pos + n, word) if short else (True, pos + n)
            if ok and level == divisions.COUNTY and not _county_ends(t, s, pos, end, d, short):
                ok = False  # 常德市石门桥镇: the town 石门桥镇 (鼎城区), not 石门县
            if ok:
                out.append(_with(r, d, end))
        for level, code, old_parent in t.old_names.get(word, ()):
            d = t.by_code[code]
            if not _fits(r, d):
                continue
            if level == divisions.COUNTY and r.city is not None and old_parent not in (r.city.name, *_old_city_names(t, r.city)):
                continue
            nr = _with(r, d, pos + n)
            if level == divisions.COUNTY:
                nr = _replace(nr, old=(d.city, word))
            out.append(nr)
    out.extend(_towns(t, s, r, pos))
    return out


def _old_city_names(t: divisions.Table, city: Division) -> list[str]:
    return [old for old, entries in t.old_names.items() if any(lv == divisions.CITY and c == city.code for lv, c, _ in entries)]


def _with(r: _Reading, d: Division, end: int) -> _Reading:
    t = divisions.table()
    if d.level == divisions.PROVINCE:
        return _replace(r, province=d, admin_end=end, end=end)
    if d.level == divisions.CITY:
        return _replace(r, province=r.province or t.by_code[d.parent], city=d, admin_end=end, end=end)
    city = t.city_of(d)
    return _replace(r, province=r.province or t.by_code[d.code[:2] + "0000"], city=r.city or city, county=d,
                    admin_end=end, end=end)


def _replace(r: _Reading, **changes: Any) -> _Reading:
    return _Reading(**{**r.__dict__, **changes})


def _match_town(towns: dict[str, str], s: str, pos: int) -> list[tuple[str, int, bool]]:
    """(full town name, end, by its short name) for each town name starting at ``pos``."""
    hits = []
    for n in range(min(12, len(s) - pos), 1, -1):
        full = towns.get(s[pos:pos + n])
        if full is None:
            continue
        end, short = pos + n, full != s[pos:pos + n]
        if short:
            if s.startswith(_NOT_A_PLACE, end):
                continue
            if s[end:end + 1] in ("区", "镇"):
                end += 1  # 东莞南城区: what people call 南城街道
        hits.append((full, end, short))
    return hits


def _towns(t: divisions.Table, s: str, r: _Reading, pos: int) -> list[_Reading]:
    """A town after its county (it confirms it, or moves it from a district that ceded it), or the
    town of a city without districts (东莞市长安镇)."""
    if r.town is not None:
        return []
    if r.county is not None:
        own = [(n, e) for n, e, _ in _match_town(t.towns.get(r.county.code, {}), s, pos)]
        if own:
            return [_replace(r, town=n, town_unit=r.county.code, end=e) for n, e in own]
        siblings = [c for c in t.children.get(r.county.parent, ()) if c != r.county.code and t.by_code[c].level == divisions.COUNTY]
        others = _towns_in(t, s, r, pos, siblings)
        stated, city = (r.old[1] if r.old else r.county.name), r.county.city
        out = []
        for o in others:
            assert o.town_unit is not None  # _towns_in reads each town with the unit it belongs to
            moved_to = t.by_code[o.town_unit].name
            if moved_to in divisions.CEDED.get((city, stated), ()):
                out.append(o)  # 杭州余杭区南苑街道: 南苑街道 has been in 临平区 since 2021
            elif stated in divisions.CEDED.get((city, moved_to), ()):
                out.append(_replace(o, town_unit=r.county.code))  # the table still has it in the old district
            else:
                out.append(_replace(o, town_unit="?"))  # the district and the town disagree: a person decides
        return out
    if r.city is not None:
        if not r.city.has_children:
            return [_replace(r, town=n, town_unit=r.city.code, admin_end=e, end=e)
                    for n, e, _ in _match_town(t.towns.get(r.city.code, {}), s, pos)]
    return []  # a town alone never names the district (杭州市北干街道: the table may miss a namesake)


def _towns_in(t: divisions.Table, s: str, r: _Reading, pos: int, codes: list[str]) -> list[_Reading]:
    """Readings for each town of these counties named (in full) at ``pos``."""
    return [_replace(r, town=n, town_unit=code, end=e)
            for code in codes for n, e, short in _match_town(t.towns.get(code, {}), s, pos) if not short]


def _holds_a_name(t: divisions.Table, token: str) -> bool:
    return any(token[i:j] in t.names or token[i:j] in t.old_names
               for i in range(len(token)) for j in range(i + 2, len(token) + 1))


def _readings(t: divisions.Table, s: str) -> list[_Reading]:
    done: list[_Reading] = []

    def walk(r: _Reading, pos: int) -> None:
        pos = _skip(s, pos, r)
        nexts = _extensions(t, s, r, pos) if pos < len(s) else []
        if not nexts and r.skips == 0 and r.unit is None and pos < len(s):
            for m in (_TYPO_TOKEN.match(s, pos, pos + k) for k in range(2, 7)):
                if m is None or _holds_a_name(t, m.group()):
                    continue  # only a token that names nothing may be skipped (杭洲市, not 市织金县)
                skipped = _replace(r, skips=1)
                nexts += [x for x in _extensions(t, s, skipped, _skip(s, m.end(), skipped))
                          if (x.county or x.city) is not None and (x.county, x.city) != (r.county, r.city)]
        if not nexts:
            done.append(r)
        for nx in nexts:
            walk(nx, nx.end if nx.town else nx.admin_end)

    walk(_Reading(), 0)
    return done


def _conflicting_unit_follows(t: divisions.Table, s: str, r: _Reading, unit: Division) -> bool:
    """Does the detail start with another county-level unit of the same province (杭州市西湖区余杭区…)?"""
    pos = _skip(s, r.admin_end, r)
    for n in range(min(t.max_len, len(s) - pos), 1, -1):
        for level, code, short in t.names.get(s[pos:pos + n], ()):
            if level == divisions.COUNTY and not short and code != unit.code and code[:2] == unit.code[:2]:
                return True
    return False


def _deepest(r: _Reading) -> Division:
    """The lowest level a reading names (each names at least its province)."""
    d = r.county or r.city or r.province
    assert d is not None
    return d


def _choose(readings: list[_Reading]) -> _Reading | None:
    """The one reading the text supports, or None when none determines a district or they disagree."""
    if not readings:
        return None
    # the readings that explain the most of the administrative text; a town of a district does not
    # count here (it never chooses between two districts: the town table is not complete enough)
    reach = max(r.admin_end for r in readings)
    best = [r for r in readings if r.admin_end == reach]
    if len({_deepest(r).code for r in best}) != 1:
        return None
    # one district as read; a town after it confirms it, or moves it (余杭区南苑街道 → 临平区)
    town_reach = max(r.end for r in best)
    best = [r for r in best if r.end == town_reach]
    units = {r.unit.code if r.unit else None for r in best}
    return best[0] if len(units) == 1 and None not in units else None


def resolve(text: str) -> ResolvedAddress | None:
    """Official province/city/district + adcode, or None when the text does not pin down one district."""
    s = _LABEL.sub("", re.sub(r"\s+", "", normalize_text(text)))
    if not s:
        return None
    t = divisions.table()
    readings = [r for r in _readings(t, s) if r.admin_end > 0]
    r = _choose([x for x in readings if not x.skips])
    if r is None and not any(x.unit for x in readings if not x.skips):
        r = _choose([x for x in readings if x.skips])  # a typo'd level skipped (浙江省杭洲市西湖区)
    if r is None:
        return None
    unit = r.unit
    if unit is None:  # _choose returns only a reading that determines its unit
        return None
    if r.old and (r.old[0], r.old[1]) in divisions.SPLIT_OLD_UNITS and not r.town:
        return None  # 江干区 became 上城区 and 钱塘区: only a town says which
    if _conflicting_unit_follows(t, s, r, unit):
        return None
    detail = s[_skip(s, r.admin_end, r):]
    if detail.startswith(unit.name):
        detail = detail[len(unit.name):]  # the district repeated (西湖区西湖区文三路)
    province = unit.province
    if unit.level == divisions.CITY:  # a city without districts: its town (if named) is the district
        city, district = unit.name, r.town or unit.name
    else:
        city, district = unit.city, unit.name
    return ResolvedAddress(
        province=province,
        city=city,
        district=district,
        adcode=unit.code,
        detail=detail,
        text=f"{province}{'' if city in (province, district) else city}{district}{detail}",
    )
