"""Channel mappers: realistic payloads from each channel → canonical order → cleansing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.channels import MappingError, map_payload
from domain.channels.common import category, dedupe_repeated_prefix, fitment, strip_region_prefix
from domain.cleansing import cleanse
from domain.order import OrderSubmission

TMALL_TRADE = {
    "tid": 3821094412345678, "status": "WAIT_SELLER_SEND_GOODS",
    "created": "2026-11-27 10:02:11", "pay_time": "2026-11-27 10:02:30", "modified": "2026-11-27 10:02:40",
    "buyer_open_uid": "AAHd5xYzTmall01", "buyer_nick": "t**2",
    "receiver_name": " 王 建国 ", "receiver_mobile": "+86 138-5711-2345", "receiver_phone": "0571-8888 8888",
    "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "萧山区",
    "receiver_address": "浙江省杭州市萧山区北干街道金城路１８８号  3幢",
    "payment": "13336.00", "post_fee": "0.00", "coupon_fee": "0.00", "buyer_message": "  发票随货 ",
    "orders": {"order": [
        {"oid": 1, "title": "博世刹车片 前轮 陶瓷", "outer_sku_id": "BOSCH-BP-COROLLA18", "num": 2, "price": "268.00",
         "sku_properties_name": "适配车型:卡罗拉18款;颜色分类:前轮"},
        {"oid": 2, "title": "大众EA211 1.5T 发动机总成", "outer_sku_id": "ENG-1.5T-EA211", "num": 1, "price": "12800.00",
         "sku_properties_name": "适配车型:朗逸2019款"},
    ]},
}

DOUYIN_ORDER = {
    "shop_order_id": "6920123456789012345", "create_time": 1796176800, "pay_time": 1796176830,
    "doudian_open_id": "1@#douyinbuyer", "post_receiver": "李　娜", "post_tel": "+86-139 0571 1234",
    "post_addr": {"province": {"name": ""}, "city": {"name": "杭州"}, "town": {"name": "西湖区"},
                  "street": {"name": "文三路"}, "detail": "９０号 东部软件园"},
    "order_amount": 18000, "post_amount": 0, "promotion_amount": 0, "buyer_words": "",
    "sku_order_list": [{"code": "MANN-OF-W712", "product_name": "曼牌机油滤清器 W712", "item_num": 4,
                        "goods_price": 4500, "spec": [{"name": "适配车型", "value": "朗逸19款"}]}],
}

MINIPROGRAM_ORDER = {
    "out_trade_no": "MP20261127000123", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    "paid_at": "2026-11-27T10:00:00+08:00",
    "address": {"userName": "张伟", "telNumber": "021-6888 1234 / 136 1111 2222", "provinceName": "上海市",
                "cityName": "上海市", "countyName": "浦东新区", "detailInfo": "张江路1号"},
    "items": [{"sku": "NGK-SP-ILKAR7", "name": "NGK铱金火花塞 4支装", "qty": 1, "price_fen": 32000, "fitment": "思域2020款"}],
    "total_fee": 32000, "freight_fee": 0, "remark": "",
}

ERP_BILL = {
    "FBillNo": "XSDD000123", "FDate": "2026-10-08 09:30:00",
    "FCustId": {"FNumber": "CUST-HZ-0012", "FName": "杭州顺达汽配"},
    "FLinkMan": "陈 强", "FLinkPhone": "0571-8765 4321",
    "FReceiveAddress": "萧山区北干街道萧山区北干街道金城路188号",
    "FBillAllAmount": 12800.0, "FFreight": 0, "FNote": "",
    "FSaleOrderEntry": [{"FMaterialId": {"FNumber": "ENG-1.5T-EA211", "FName": "大众EA211 1.5T 发动机总成"},
                         "FQty": 1, "FTaxPrice": 12800.0, "F_Fitment": "朗逸2019款"}],
}


def clean(channel, raw):
    sub = OrderSubmission.model_validate(map_payload(channel, raw))
    result = cleanse(sub)
    assert result.ok, result.errors
    return sub, result.order


def test_tmall_trade():
    sub, o = clean("tmall", TMALL_TRADE)
    assert o.order_id == "order-tmall-3821094412345678"
    assert o.customer_name == "王建国" and o.phone == "+8613857112345"
    assert o.address.text == "浙江省杭州市萧山区北干街道金城路188号3幢" and o.address.adcode == "330109"
    assert [(ln.sku, ln.category, ln.vehicle_model, ln.quantity, ln.unit_price) for ln in o.lines] == [
        ("BOSCH-BP-COROLLA18", "刹车片", "TOYOTA_COROLLA_2018", 2, Decimal("268.00")),
        ("ENG-1.5T-EA211", "发动机总成", "VW_LAVIDA_2019", 1, Decimal("12800.00")),
    ]
    assert o.paid_amount == Decimal("13336.00") and o.note == "发票随货"
    assert sub.ordered_at.isoformat() == "2026-11-27T02:02:30+00:00"  # China local → UTC


def test_taobao_uses_the_same_mapper_under_its_own_channel():
    sub, _ = clean("taobao", TMALL_TRADE)
    assert sub.order_id == "order-taobao-3821094412345678"


def test_douyin_order_missing_province_full_width_and_fen():
    sub, o = clean("douyin", DOUYIN_ORDER)
    assert o.order_id == "order-douyin-6920123456789012345"
    assert o.customer_name == "李娜" and o.phone == "+8613905711234"
    assert (o.address.province, o.address.city, o.address.district) == ("浙江省", "杭州市", "西湖区")
    assert o.address.text.endswith("文三路90号东部软件园")
    line = o.lines[0]
    assert (line.category, line.quantity, line.unit_price, line.vehicle_model) == ("机油滤清器", 4, Decimal("45.00"), "VW_LAVIDA_2019")
    assert o.paid_amount == Decimal("180.00")


def test_miniprogram_prefers_the_mobile_of_two_numbers():
    _, o = clean("miniprogram", MINIPROGRAM_ORDER)
    assert o.phone == "+8613611112222"
    assert o.address.text == "上海市浦东新区张江路1号"
    assert o.lines[0].category == "火花塞" and o.paid_amount == Decimal("320.00")


def test_erp_bill_region_typed_twice_and_landline():
    _, o = clean("erp", ERP_BILL)
    assert o.order_id == "order-erp-XSDD000123" and o.customer_id == "CUST-HZ-0012"
    assert o.address.text == "浙江省杭州市萧山区北干街道金城路188号"
    assert o.phone == "+8657187654321"
    assert o.lines[0].category == "发动机总成"


@pytest.mark.parametrize(
    "channel,raw,field",
    [
        ("tmall", {**TMALL_TRADE, "receiver_mobile": "138****2345", "receiver_phone": ""}, "receiver_mobile"),
        ("tmall", {**TMALL_TRADE, "orders": {"order": []}}, "orders.order"),
        ("tmall", {**TMALL_TRADE, "tid": "38 21"}, "tid"),
        ("douyin", {**DOUYIN_ORDER, "post_addr": {"detail": ""}}, "post_addr"),
        ("douyin", {**DOUYIN_ORDER, "order_amount": "abc"}, "order_amount"),
        ("miniprogram", {**MINIPROGRAM_ORDER, "items": [{"sku": "X", "name": "机油", "qty": 1}]}, "price_fen"),
        ("erp", {**ERP_BILL, "FSaleOrderEntry": [{"FMaterialId": {"FNumber": "X"}, "FQty": 1, "FTaxPrice": 1}]}, "FMaterialId"),
        ("wechat", {}, "channel"),
    ],
)
def test_unmappable_payloads_name_the_field(channel, raw, field):
    with pytest.raises(MappingError) as exc:
        map_payload(channel, raw)
    assert field in exc.value.field


def test_masked_phone_says_what_to_do():
    with pytest.raises(MappingError, match="decrypt"):
        map_payload("douyin", {**DOUYIN_ORDER, "post_tel": "139****1234"})


def test_category_inference_prefers_the_longest_keyword():
    assert category(None, "曼牌机油滤清器") == "机油滤清器"
    assert category(None, "美孚1号 全合成机油 5W-30") == "机油"
    assert category(None, "博世刹车片") == "刹车片"
    assert category(None, "原厂发动机总成") == "发动机总成"
    assert category(None, "车载香薰") == "其他配件"
    assert category("刹车片", "whatever") == "刹车片"


def test_region_prefix_and_fitment_helpers():
    assert strip_region_prefix("浙江省杭州市萧山区北干街道", "浙江省", "杭州市", "萧山区") == "北干街道"
    assert strip_region_prefix("杭州萧山区北干街道", "浙江省", "杭州市", "萧山区") == "北干街道"
    assert dedupe_repeated_prefix("浙江省宁波市鄞州区浙江省宁波市鄞州区首南街道") == "浙江省宁波市鄞州区首南街道"
    assert dedupe_repeated_prefix("文三路90号") == "文三路90号"
    assert fitment("适配车型:卡罗拉18款;颜色分类:前轮") == "卡罗拉18款"
    assert fitment([{"name": "适配车型", "value": "朗逸19款"}]) == "朗逸19款"
    assert fitment("颜色分类:标准") is None


def test_generated_samples_of_every_channel_map_and_cleanse():
    from fakes.douyin import sample_order as douyin_sample
    from fakes.erp import sample_bill
    from fakes.miniprogram import sample_order as mp_sample
    from fakes.tmall import sample_trade

    for i in range(24):
        for channel, raw in (("tmall", sample_trade(i)), ("douyin", douyin_sample(i)), ("miniprogram", mp_sample(i)),
                             ("erp", sample_bill(i))):
            _, o = clean(channel, raw)
            assert o.address is not None, (channel, i, o.address_raw)


# ------------------------------------------------------------------------------------ Douyin ids-only pushes

DOUYIN_IDS_ONLY = {"p_id": 6920123456789012345, "s_ids": [6920123456789012346], "shop_id": 4463798, "order_status": 2,
                   "order_type": 0, "biz": 2, "pay_type": 1, "pay_time": 1796176830, "pay_amount": 18000}


def test_douyin_ids_only_push_is_told_apart_from_a_full_order():
    from domain.channels import douyin

    assert douyin.needs_detail(DOUYIN_IDS_ONLY)
    assert not douyin.needs_detail(DOUYIN_ORDER)
    assert not douyin.needs_detail({"order_status": 2})  # no id at all: not fetchable, the mapper says why
    assert douyin.pushed_order_id(DOUYIN_IDS_ONLY) == "6920123456789012345"  # a 19-digit int kept exact
    assert douyin.pushed_order_id(DOUYIN_ORDER) == "6920123456789012345"
    assert douyin.pushed_shop_id(DOUYIN_IDS_ONLY) == "4463798"
    assert {"101", "doudian_trade_TradePaid"} <= douyin.ORDER_TAGS
    assert "doudian_trade_TradeCreate" not in douyin.ORDER_TAGS  # created, not paid yet
    with pytest.raises(MappingError) as exc:
        map_payload("douyin", DOUYIN_IDS_ONLY)
    assert exc.value.field == "data" and "orderDetail" in exc.value.reason
    with pytest.raises(MappingError) as exc:
        douyin.pushed_order_id({"p_id": "69 20"})
    assert exc.value.field == "p_id"


def test_douyin_detail_answer_maps_like_a_full_push():
    from domain.channels import douyin

    answer = {"code": 10000, "msg": "success", "data": {"shop_order_detail": {**DOUYIN_ORDER, "order_id": "6920123456789012345"}}}
    detail = douyin.detail_from_response(answer, "6920123456789012345")
    assert map_payload("douyin", detail) == map_payload("douyin", DOUYIN_ORDER)
    for bad, field in (({"code": 30002, "msg": "access_token已过期"}, "code"), ({"code": 10000, "data": {}}, "data.shop_order_detail")):
        with pytest.raises(MappingError) as exc:
            douyin.detail_from_response(bad, "6920123456789012345")
        assert exc.value.field == field
    with pytest.raises(MappingError, match="asked for 1"):  # the API answered for another order
        douyin.detail_from_response(answer, "1")


def test_douyin_open_api_signature():
    import hashlib
    import hmac as _hmac

    from domain.channels.signing import douyin_api_sign, douyin_api_verify, douyin_param_json

    pj = douyin_param_json({"shop_order_id": "6920123456789012345", "a": "中"})
    assert pj == '{"a":"中","shop_order_id":"6920123456789012345"}'
    s = f'secapp_keykmethodorder.orderDetailparam_json{pj}timestamp1796176800v2sec'
    assert douyin_api_sign("k", "sec", "order.orderDetail", pj, "1796176800") == \
        _hmac.new(b"sec", s.encode(), hashlib.sha256).hexdigest()
    assert douyin_api_sign("k", "sec", "order.orderDetail", pj, "1796176800", sign_method="md5") == hashlib.md5(s.encode()).hexdigest()
    sig = douyin_api_sign("k", "sec", "order.orderDetail", pj, "1796176800")
    assert douyin_api_verify("k", "sec", "order.orderDetail", pj, "1796176800", "2", None, sig)
    assert not douyin_api_verify("k", "sec", "order.orderDetail", pj.replace("69", "70"), "1796176800", "2", None, sig)
    assert not douyin_api_verify("k", "sec", "token.create", pj, "1796176800", "2", None, sig)
    assert not douyin_api_verify("k", "", "order.orderDetail", pj, "1796176800", "2", None, sig)
