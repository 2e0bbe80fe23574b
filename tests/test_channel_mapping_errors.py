"""A channel payload that cannot be mapped says so to people: the rejection's field is the channel's
real field (``sku_order_list[0].item_num``, not ``payload`` or ``name``) and its reason is Chinese first,
the English after it, never a Python exception (the console's 拒收记录, GET /v1/rejections/{id},
the mini-program's 422 show it as is)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from domain import channels
from domain.channels import MappingError, map_payload
from domain.channels import douyin as douyin_mapper
from domain.channels import erp as erp_mapper
from fakes.douyin import sample_order as douyin_sample
from fakes.erp import sample_bill
from fakes.miniprogram import sample_order as miniprogram_sample
from fakes.tmall import sample_trade

CHINESE_FIRST = re.compile(r"^[\u4e00-\u9fff]")
ENGLISH_AFTER = re.compile(r"\([a-z][^)]*\)")  # "(missing)", "(not an amount in fen)" …
PYTHON_WORDS = ("Error", "Exception", "InvalidOperation", "ConversionSyntax", "Traceback", "object has no attribute",
                "invalid literal", "not iterable", "NoneType", "int()")
SAMPLES = {"douyin": douyin_sample, "tmall": sample_trade, "miniprogram": miniprogram_sample, "erp": sample_bill}
DELETE = object()


def broken(channel: str, path: str, value: Any) -> dict[str, Any]:
    """A valid sample of the channel with one field (a dotted path; list indexes as numbers) set or deleted."""
    raw = copy.deepcopy(SAMPLES[channel](0))
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    cur: Any = raw
    for k in parents:
        cur = cur[k]
    if value is DELETE:
        del cur[last]
    else:
        cur[last] = value
    return raw


def assert_readable(exc: MappingError) -> None:
    assert CHINESE_FIRST.match(exc.reason), exc.reason
    assert ENGLISH_AFTER.search(exc.reason), f"the English after the Chinese: {exc.reason}"
    for word in PYTHON_WORDS:
        assert word not in exc.reason, exc.reason
    assert str(exc) == f"{exc.field}: {exc.reason}"


def rejected(channel: str, raw: Any) -> MappingError:
    with pytest.raises(MappingError) as info:
        map_payload(channel, raw)
    assert_readable(info.value)
    return info.value


def test_every_sample_still_maps():
    for channel, sample in SAMPLES.items():
        for i in range(6):
            assert map_payload(channel, sample(i))["lines"], (channel, i)


CASES = [
    # the tester's Douyin findings
    ("douyin", "post_receiver", DELETE, "post_receiver", "缺少此字段 (missing)"),
    ("douyin", "post_addr", "杭州市西湖区文三路90号", "post_addr", "应为 JSON 对象"),
    ("douyin", "sku_order_list", "abc", "sku_order_list", "应为商品明细的 JSON 数组"),
    ("douyin", "sku_order_list.0.item_num", "abc", "sku_order_list[0].item_num", "应为整数数量, 收到 'abc'"),
    ("douyin", "sku_order_list.0.goods_price", "26.8元", "sku_order_list[0].goods_price",
     "应为以分为单位的整数金额, 收到 '26.8元' (not an amount in fen)"),
    # other shapes no mapper foresaw before
    ("douyin", "sku_order_list", {"code": "X"}, "sku_order_list", "应为商品明细的 JSON 数组"),
    ("douyin", "sku_order_list", 3, "sku_order_list", "应为商品明细的 JSON 数组"),
    ("douyin", "sku_order_list.0", "abc", "sku_order_list[0]", "应为 JSON 对象"),
    ("douyin", "sku_order_list.0.item_num", DELETE, "sku_order_list[0].item_num", "缺少此字段"),
    ("douyin", "sku_order_list.0.item_num", [2], "sku_order_list[0].item_num", "应为整数数量"),
    ("douyin", "sku_order_list.0.item_num", float("inf"), "sku_order_list[0].item_num", "应为整数数量"),
    ("douyin", "sku_order_list.0.product_name", "", "sku_order_list[0].product_name", "缺少商品名称"),
    ("douyin", "sku_order_list.0.code", "", "sku_order_list[0].code", "商品没有商家编码"),
    ("douyin", "promotion_amount", "abc", "promotion_amount", "应为以分为单位的整数金额"),
    ("douyin", "order_amount", float("inf"), "order_amount", "应为以分为单位的整数金额"),
    ("douyin", "order_amount", 10**40, "order_amount", "金额过大"),
    ("douyin", "post_tel", "139****1234", "post_tel", "渠道发来的是打码手机号, 请开通渠道的解密/隐私号接口"),
    ("douyin", "pay_time", "²", "create_time", "应为时间"),
    ("douyin", "shop_order_id", "69 20", "shop_order_id", "订单号只能由字母、数字"),
    ("douyin", "post_addr", {"detail": ""}, "post_addr", "没有街道地址, 也没有区县"),
    # Tmall / Taobao
    ("tmall", "orders.order", "abc", "orders.order", "应为商品明细的 JSON 数组"),
    ("tmall", "orders", "abc", "orders", "应为商品明细的 JSON 数组"),
    ("tmall", "orders.order.0", None, "orders.order[0]", "应为 JSON 对象"),
    ("tmall", "orders.order.0.num", "abc", "orders.order[0].num", "应为整数数量"),
    ("tmall", "orders.order.0.num", DELETE, "orders.order[0].num", "缺少此字段"),
    ("tmall", "orders.order.0.price", "26.8元", "orders.order[0].price", "应为以元为单位的金额, 收到 '26.8元'"),
    ("tmall", "orders.order.0.price", DELETE, "orders.order[0].price", "缺少此字段"),
    ("tmall", "payment", "Infinity", "payment", "应为以元为单位的金额"),
    ("tmall", "payment", "1e30", "payment", "应为以元为单位的金额"),
    ("tmall", "pay_time", "昨天", "created", "应为时间"),
    ("tmall", "orders.order", [], "orders.order", "订单没有商品明细"),
    # the mini-program
    ("miniprogram", "out_trade_no", DELETE, "out_trade_no", "缺少订单号 (missing)"),
    ("miniprogram", "items", "abc", "items", "应为商品明细的 JSON 数组"),
    ("miniprogram", "items.0", "abc", "items[0]", "应为 JSON 对象"),
    ("miniprogram", "items.0.qty", "abc", "items[0].qty", "应为整数数量"),
    ("miniprogram", "items.0.sku", DELETE, "items[0].sku", "缺少此字段"),
    ("miniprogram", "items.0.price_fen", "45元", "items[0].price_fen", "应为以分为单位的整数金额"),
    ("miniprogram", "address", "上海市浦东新区张江路1号", "address", "应为 JSON 对象"),
    ("miniprogram", "address", DELETE, "address", "缺少此字段"),
    ("miniprogram", "address.userName", DELETE, "address.userName", "缺少此字段"),
    ("miniprogram", "total_fee", "abc", "total_fee", "应为以分为单位的整数金额"),
    # the ERP import
    ("erp", "FSaleOrderEntry", "abc", "FSaleOrderEntry", "应为商品明细的 JSON 数组"),
    ("erp", "FSaleOrderEntry.0", 7, "FSaleOrderEntry[0]", "应为 JSON 对象"),
    ("erp", "FSaleOrderEntry.0.FQty", "abc", "FSaleOrderEntry[0].FQty", "应为数量"),
    ("erp", "FSaleOrderEntry.0.FQty", "NaN", "FSaleOrderEntry[0].FQty", "应为数量"),
    ("erp", "FSaleOrderEntry.0.FQty", DELETE, "FSaleOrderEntry[0].FQty", "缺少此字段"),
    ("erp", "FSaleOrderEntry.0.FTaxPrice", "abc", "FSaleOrderEntry[0].FTaxPrice", "应为以元为单位的金额"),
    ("erp", "FSaleOrderEntry.0.FMaterialId", "X", "FSaleOrderEntry[0].FMaterialId", "物料编码和物料名称都要有"),
    ("erp", "FBillAllAmount", "abc", "FBillAllAmount", "应为以元为单位的金额"),
    ("erp", "FDate", "²", "FDate", "应为时间"),
    ("erp", "FReceiveAddress", "-", "FReceiveAddress", "缺少收货地址"),
]


@pytest.mark.parametrize(("channel", "path", "value", "field", "says"), CASES,
                         ids=[f"{c[0]}:{c[1]}=" + ("<deleted>" if c[2] is DELETE else repr(c[2]))[:40] for c in CASES])
def test_a_broken_field_is_named_and_said_in_chinese(channel, path, value, field, says):
    exc = rejected(channel, broken(channel, path, value))
    assert exc.field == field
    assert says in exc.reason


def test_a_value_that_may_be_personal_data_is_not_quoted():
    exc = rejected("douyin", broken("douyin", "post_addr", "杭州市西湖区文三路90号"))
    assert exc.reason == "应为 JSON 对象, 收到的是文本 (not an object)"
    exc = rejected("miniprogram", broken("miniprogram", "items", ["曼牌机油滤清器 4个"]))
    assert exc.field == "items[0]" and "曼牌" not in exc.reason


@pytest.mark.parametrize("channel", sorted(SAMPLES))
@pytest.mark.parametrize("raw", ["abc", [1, 2], 42])
def test_a_payload_that_is_not_an_object(channel, raw):
    exc = rejected(channel, raw)
    assert "应为 JSON 对象" in exc.reason and exc.field in ("data", "trade", "body", "bill")


def test_an_unknown_channel():
    exc = rejected("wechat", {})
    assert exc.field == "channel" and "'wechat'" in exc.reason


def test_the_last_resort_is_chinese_first_too(monkeypatch):
    def careless(raw: Any, channel: str) -> dict[str, Any]:
        return raw["items"].get("x")  # a mapper that did not foresee a shape

    monkeypatch.setitem(channels.MAPPERS, "careless", careless)
    with pytest.raises(MappingError) as info:
        map_payload("careless", {"items": "abc"})
    exc = info.value
    assert exc.field == "payload"
    assert exc.reason.startswith("渠道报文结构无法解析 (unexpected shape: ")
    assert "AttributeError" in exc.reason  # kept for whoever fixes the mapper, after the Chinese


def test_douyin_ids_only_push_and_open_api_answers():
    ids_only = {"p_id": 6920123456789012345, "shop_id": 4463798, "pay_time": 1796176830}
    exc = rejected("douyin", ids_only)
    assert exc.field == "data" and "orderDetail" in exc.reason
    for body, field in (({"code": 10000, "data": "abc"}, "data.shop_order_detail"),
                        ({"code": 30002, "msg": "access_token已过期"}, "code"),
                        ({"code": 10000, "data": {"shop_order_detail": {"order_id": "2"}}}, "data.shop_order_detail.order_id")):
        with pytest.raises(MappingError) as info:
            douyin_mapper.detail_from_response(body, "1")
        assert info.value.field == field
        assert_readable(info.value)
    for body, field in (("abc", "body"), ([{"msg_id": "1"}], "[0]"), ([{"tag": "101", "data": "{"}], "[0].data")):
        with pytest.raises(MappingError) as info:
            douyin_mapper.messages(body)
        assert info.value.field == field
        assert_readable(info.value)
    with pytest.raises(MappingError) as info:
        douyin_mapper.pushed_order_id("abc")
    assert info.value.field == "data"
    assert_readable(info.value)


def test_erp_save_answer_of_an_unexpected_shape():
    for resp in ({"Result": "abc"}, {"Result": {"ResponseStatus": {"IsSuccess": False, "Errors": "abc"}}}):
        with pytest.raises(MappingError) as info:
            erp_mapper.bill_no_of(resp)
        assert info.value.field == "ResponseStatus"
        assert_readable(info.value)
    said = {"Result": {"ResponseStatus": {"IsSuccess": False, "Errors": [{"Message": "物料不存在"}]}}}
    with pytest.raises(MappingError, match="物料不存在"):  # the ERP's own words
        erp_mapper.bill_no_of(said)
    ok = {"Result": {"ResponseStatus": {"IsSuccess": True, "SuccessEntitys": [{"Number": "XSDD001"}]}}}
    assert erp_mapper.bill_no_of(ok) == "XSDD001"


def test_douyin_detail_that_cannot_be_fetched_is_said_in_chinese():
    from activities.channels import ChannelError, DouyinOrderNotFound, _detail_reason

    not_found = DouyinOrderNotFound("douyin order.orderDetail: error 50002 isv.order-not-found")
    assert CHINESE_FIRST.match(_detail_reason(not_found)) and "isv.order-not-found" in _detail_reason(not_found)
    config = ChannelError("douyin order.orderDetail: error 30001 invalid sign", retryable=False)
    assert CHINESE_FIRST.match(_detail_reason(config)) and "30001" in _detail_reason(config)
