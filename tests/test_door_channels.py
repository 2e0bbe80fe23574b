"""Every channel's mapper builds an ``OrderSubmission``, so the door's rules apply to it: a value no
store can hold becomes a recorded rejection (replayable after a fix), never a started order that
stalls. Through ``accept_channel_payload`` (what the Douyin webhook, the Tmall sync and the ERP import
use) on SQLite and PostgreSQL, and the mini-program's HTTP endpoint."""

from __future__ import annotations

import copy
import uuid

import pytest
from temporalio.service import RPCError

from activities.channels import accept_channel_payload
from store import read_model
from tests.api_support import api_settings, running_api
from tests.test_channel_mapping import DOUYIN_ORDER, ERP_BILL, MINIPROGRAM_ORDER, TMALL_TRADE

pytestmark = pytest.mark.integration


def unique(raw: dict, key: str) -> dict:
    raw = copy.deepcopy(raw)
    raw[key] = f"{raw[key]}{uuid.uuid4().hex[:8]}" if isinstance(raw[key], str) else int(str(raw[key])[:10] + str(uuid.uuid4().int)[:8])
    return raw


def tmall_far_future(t):
    t["created"] = t["pay_time"] = "9999-12-31 10:00:00"


def tmall_negative_price(t):
    t["orders"]["order"][0]["price"] = "-268.00"


def tmall_nul_in_sku(t):
    t["orders"]["order"][0]["outer_sku_id"] = "BOSCH\x00-BP"


def douyin_year_9999(o):
    o["pay_time"] = o["create_time"] = 253402300000  # 9999-12-31


def douyin_overflowing_amount(o):
    o["sku_order_list"][0].update(item_num=100000, goods_price=999999999999)


def miniprogram_year_1(p):
    p["paid_at"] = "0001-01-01T00:00:00+08:00"


def erp_year_1(b):
    b["FDate"] = "0001-01-01 00:00:00"


def erp_negative_price(b):
    b["FSaleOrderEntry"][0]["FTaxPrice"] = -12800.0


CASES = {
    "tmall far future": ("tmall", TMALL_TRADE, "tid", tmall_far_future, "ordered_at"),
    "tmall negative price": ("tmall", TMALL_TRADE, "tid", tmall_negative_price, "lines[0].unit_price"),
    "tmall NUL in the sku": ("tmall", TMALL_TRADE, "tid", tmall_nul_in_sku, "lines[0].sku"),
    "douyin year 9999": ("douyin", DOUYIN_ORDER, "shop_order_id", douyin_year_9999, "ordered_at"),
    "douyin overflowing amount": ("douyin", DOUYIN_ORDER, "shop_order_id", douyin_overflowing_amount, "lines[0]"),
    "miniprogram year 1": ("miniprogram", MINIPROGRAM_ORDER, "out_trade_no", miniprogram_year_1, "ordered_at"),
    "erp year 1": ("erp", ERP_BILL, "FBillNo", erp_year_1, "ordered_at"),
    "erp negative price": ("erp", ERP_BILL, "FBillNo", erp_negative_price, "lines[0].unit_price"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_channel_value_is_a_recorded_rejection_not_a_stalled_order(case, dev_env, engine):
    from zhongshu.settings import Settings

    channel, sample, id_key, spoil, field = CASES[case]
    raw = unique(sample, id_key)
    spoil(raw)
    settings = Settings(task_queue=f"nobody-{uuid.uuid4().hex[:6]}", database_url=str(engine.url))
    r = await accept_channel_payload(dev_env.client, engine, settings, channel, raw, source=f"test:{channel}")
    assert r.outcome == "rejected" and r.rejection_id, r
    stored = read_model.get_rejection(engine, r.rejection_id)
    assert field in {e["field"] for e in stored["errors"]} or any(field in e["field"] for e in stored["errors"]), stored
    assert r.order_id is None
    oid = f"order-{channel}-{raw[id_key]}"
    with pytest.raises(RPCError):
        await dev_env.client.get_workflow_handle(oid).describe()


def test_the_miniprogram_endpoint_answers_422_and_records(db_url, dev_env, tmp_path):
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    raw = unique(MINIPROGRAM_ORDER, "out_trade_no")
    raw["items"][0]["price_fen"] = -100
    with running_api(settings) as api, api.http() as http:
        r = http.post("/v1/channels/miniprogram/orders", json=raw)
        assert r.status_code == 422, r.text
        assert r.json()["rejection_id"]
        assert http.get(f"/v1/rejections/{r.json()['rejection_id']}").status_code == 200
        # the door's generic checks apply to this route too, without a line of its own
        assert http.post("/v1/channels/miniprogram/orders", content=b"a=b",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
        bad = http.post("/v1/channels/miniprogram/orders", content=b"{oops", headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and bad.json()["rejection_id"]
        assert http.get(f"/v1/rejections/{bad.json()['rejection_id']}").json()["source"] == "api:miniprogram"
