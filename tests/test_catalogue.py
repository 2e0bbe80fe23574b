"""domain/catalogue.py: vehicle fitment and part categories are catalogue values, never free text."""

from __future__ import annotations

import pytest

from domain.catalogue import Category, VehicleModel, normalize_text, parse_category, parse_vehicle_model

# --------------------------------------------------------------------------------------------
# parse_vehicle_model
# --------------------------------------------------------------------------------------------

COROLLA_SPELLINGS = [
    "丰田卡罗拉2018款",  # the field's example …
    "卡罗拉18款",  # … and its twin: the same entry
    "丰田 卡罗拉 2018款",  # the display value
    "TOYOTA_COROLLA_2018",  # the code
    "toyota_corolla_2018",
    "卡罗拉 2018",
    "卡罗拉2018",
    "卡罗拉 2018 款",
    "卡罗拉 2018年款",
    "卡罗拉18年",
    "2018款卡罗拉",
    "18款卡罗拉",
    "丰田　卡罗拉　２０１８款",  # full-width digits, ideographic spaces
    "  丰田卡罗拉2018款  ",
    "一汽丰田卡罗拉2018款",  # joint-venture prefix
    "卡罗拉双擎2018款",  # trim name
    "卡罗拉 1.2T 2018款",  # displacement before the year
    "丰田 卡罗拉 2018款 1.2T",
    "toyota corolla 2018",
    "TOYOTA COROLLA 2018",
    "Corolla 18",
    "Toyota卡罗拉18",
    "丰田corolla2018",
]


@pytest.mark.parametrize("text", COROLLA_SPELLINGS)
def test_corolla_spellings_are_one_entry(text):
    assert parse_vehicle_model(text) is VehicleModel.TOYOTA_COROLLA_2018


@pytest.mark.parametrize("model", list(VehicleModel))
def test_every_entry_parses_from_its_code_and_display_value(model):
    assert parse_vehicle_model(model.name) is model
    assert parse_vehicle_model(model.value) is model
    assert parse_vehicle_model(model.value.replace(" ", "")) is model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("凯美瑞2019", VehicleModel.TOYOTA_CAMRY_2019),
        ("凯美瑞 2.0L 2019款", VehicleModel.TOYOTA_CAMRY_2019),
        ("凯美瑞2019款 2.5L", VehicleModel.TOYOTA_CAMRY_2019),
        ("思域20款", VehicleModel.HONDA_CIVIC_2020),
        ("HONDA CIVIC 20", VehicleModel.HONDA_CIVIC_2020),
        ("雅阁18", VehicleModel.HONDA_ACCORD_2018),
        ("广汽本田雅阁2018款", VehicleModel.HONDA_ACCORD_2018),
        ("大众朗逸19款", VehicleModel.VW_LAVIDA_2019),
        ("上汽大众朗逸2019款", VehicleModel.VW_LAVIDA_2019),
        ("帕萨特2020", VehicleModel.VW_PASSAT_2020),
        ("速腾2019款", VehicleModel.VW_SAGITAR_2019),
        ("一汽-大众速腾2019款", VehicleModel.VW_SAGITAR_2019),
        ("轩逸经典2020款", VehicleModel.NISSAN_SYLPHY_2020),
        ("东风日产轩逸2020款", VehicleModel.NISSAN_SYLPHY_2020),
        ("英朗18款", VehicleModel.BUICK_EXCELLE_2018),
        ("上汽通用别克英朗2018款", VehicleModel.BUICK_EXCELLE_2018),
        ("汉21款", VehicleModel.BYD_HAN_2021),
        ("比亚迪汉2021款", VehicleModel.BYD_HAN_2021),
        ("比亚迪 汉EV 2021款", VehicleModel.BYD_HAN_2021),
        ("帝豪19款", VehicleModel.GEELY_EMGRAND_2019),
        ("宝马3系20款", VehicleModel.BMW_3_2020),
        ("华晨宝马3系2020款", VehicleModel.BMW_3_2020),
        ("3系2020", VehicleModel.BMW_3_2020),
        ("奥迪A4L 2019款", VehicleModel.AUDI_A4L_2019),
        ("一汽奥迪A4L2019款", VehicleModel.AUDI_A4L_2019),
        ("A4L19款", VehicleModel.AUDI_A4L_2019),
    ],
)
def test_other_models(text, expected):
    assert parse_vehicle_model(text) is expected


@pytest.mark.parametrize("text", ["通用", "universal", "UNIVERSAL", "全车型", " 通用 "])
def test_universal(text):
    assert parse_vehicle_model(text) is VehicleModel.UNIVERSAL


@pytest.mark.parametrize("text", ["特斯拉Model3", "五菱宏光", "XYZ", "2018款", "丰田", "丰田2018款", "宝马 320Li 2020款"])
def test_unknown_model_rejected(text):
    with pytest.raises(ValueError, match="not in the fitment catalogue") as exc:
        parse_vehicle_model(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("text", "model"),
    [
        ("本田卡罗拉18款", "Corolla"),
        ("Honda Corolla 2018", "Corolla"),
        ("大众卡罗拉2018款", "Corolla"),
        ("丰田思域20款", "Civic"),
        ("宝马A4L 2019款", "A4L"),
        ("日产朗逸19款", "Lavida"),
    ],
)
def test_wrong_make_rejected(text, model):
    with pytest.raises(ValueError, match="make does not match") as exc:
        parse_vehicle_model(text)
    assert repr(text) in str(exc.value)
    assert model in str(exc.value)


@pytest.mark.parametrize(
    "text",
    ["卡罗拉2019款", "卡罗拉2008款", "卡罗拉08款", "卡罗拉1918款", "卡罗拉19款", "丰田卡罗拉2020款", "思域2018款", "汉2020款"],
)
def test_unknown_year_rejected(text):
    with pytest.raises(ValueError, match="model year unknown") as exc:
        parse_vehicle_model(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize("text", ["", " ", "\u3000", None])
def test_empty_rejected(text):
    with pytest.raises(ValueError, match="empty"):
        parse_vehicle_model(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("速腾 280TSI 2019款", VehicleModel.VW_SAGITAR_2019),
        ("帕萨特 330TSI 2020款", VehicleModel.VW_PASSAT_2020),
        ("奥迪A4L 40TFSI 2019款", VehicleModel.AUDI_A4L_2019),
        ("思域 220TURBO 2020款", VehicleModel.HONDA_CIVIC_2020),
    ],
)
def test_trim_code_digits_before_the_year(text, expected):
    assert parse_vehicle_model(text) is expected


@pytest.mark.parametrize("text", ["汉兰达21款", "汉兰达 2021款", "汉兰达"])
def test_highlander_is_not_byd_han(text):
    with pytest.raises(ValueError):
        parse_vehicle_model(text)


def test_universal_is_case_insensitive():
    assert parse_vehicle_model("Universal") is VehicleModel.UNIVERSAL


def test_parse_vehicle_model_returns_catalogue_member_whose_name_is_the_code():
    v = parse_vehicle_model("卡罗拉18款")
    assert v.name == "TOYOTA_COROLLA_2018"
    assert v.value == "丰田 卡罗拉 2018款"


# --------------------------------------------------------------------------------------------
# parse_category
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category))
def test_category_from_chinese_name_and_enum_name(category):
    assert parse_category(category.value) is category
    assert parse_category(category.name) is category
    assert parse_category(category.name.lower()) is category
    assert parse_category(f"  {category.value}  ") is category


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("机滤", Category.OIL_FILTER),
        ("oil_filter", Category.OIL_FILTER),
        ("Oil_Filter", Category.OIL_FILTER),
        ("发动机", Category.ENGINE_ASSEMBLY),
        ("engine", Category.ENGINE_ASSEMBLY),
        ("ENGINE", Category.ENGINE_ASSEMBLY),
        ("Engine", Category.ENGINE_ASSEMBLY),
        ("ｅｎｇｉｎｅ", Category.ENGINE_ASSEMBLY),  # full-width
        ("engine_assembly", Category.ENGINE_ASSEMBLY),
        ("刹车皮", Category.BRAKE_PADS),
        ("brake_pads", Category.BRAKE_PADS),
        ("空滤", Category.AIR_FILTER),
        ("润滑油", Category.ENGINE_OIL),
        ("电瓶", Category.BATTERY),
        ("雨刷", Category.WIPER),
        ("大灯", Category.LIGHTING),
        ("变速箱", Category.GEARBOX),
        ("其他", Category.ACCESSORY),
        (" 机滤 ", Category.OIL_FILTER),
    ],
)
def test_category_aliases(text, expected):
    assert parse_category(text) is expected


def test_oil_and_oil_filter_are_distinct():
    assert parse_category("机油") is Category.ENGINE_OIL
    assert parse_category("机油滤清器") is Category.OIL_FILTER


@pytest.mark.parametrize("text", ["刹车", "foo", "", "  ", "发动机总成X", "滤清器", "OIL FILTER"])
def test_unknown_category_lists_choices(text):
    with pytest.raises(ValueError, match="unknown category") as exc:
        parse_category(text)
    msg = str(exc.value)
    assert repr(text) in msg
    for c in Category:
        assert c.value in msg


# --------------------------------------------------------------------------------------------
# normalize_text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a  b  ", "a b"),
        ("ＡＢＣ１２３", "ABC123"),
        ("a\u3000b", "a b"),
        ("a\t\nb", "a b"),
        ("（前）", "(前)"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected
