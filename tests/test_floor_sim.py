"""The demo's stock seed: every sample SKU and every installation kit in the three warehouses, once."""

from __future__ import annotations

from zhongshu_devtools.floor_sim import WAREHOUSES, seed_demo_stock
from zhongshu_devtools.sample_orders import PRODUCTS

from activities import warehouse as wh
from domain.installation import kit_sku
from store.db import engine_for, migrate


def test_demo_stock_is_seeded_once_with_kits(db_url):
    migrate(db_url)
    first = seed_demo_stock(db_url)
    assert set(first) == set(WAREHOUSES)
    assert seed_demo_stock(db_url) == {}  # already stocked: left alone
    skus = {r.sku for r in wh.stock_rows(engine_for(db_url), "HZ-CLOUD")}
    assert {p[0] for p in PRODUCTS} <= skus and kit_sku("刹车片") in skus
