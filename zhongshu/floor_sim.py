"""The demo's people, for `make up`: pickers with scanners in three warehouses and customers who
confirm their delivery point — so demo orders go all the way to shipped and signed.

It uses only the public interfaces a real floor and real customers use: the device API (claim,
confirm, QC) with the service key, the close-waves call the warehouse lead makes at the truck, the
cards the fake mini-program received and the confirmation page's POST. It seeds demo stock (the
sample catalogue and installation kits) into warehouses that have none. The carriers' fake runs on
autopilot, so shipped parcels are tracked to signed by signed pushes into the API.

Run by `zhongshu up` as the ``floor-sim`` child; `python -m zhongshu.floor_sim` on its own.
"""

from __future__ import annotations

import logging
import random
import signal
import time

import httpx

from activities import warehouse as wh
from domain import geo
from domain.catalogue import Category
from domain.installation import kit_sku
from store.db import engine_for, migrate
from zhongshu.sample_orders import PRODUCTS
from zhongshu.settings import Settings

log = logging.getLogger("zhongshu.floor_sim")
WAREHOUSES = ["HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"]
CLOSE_WAVES_EVERY = 45.0  # seconds: the lead closes open waves for the next truck
FORGETFUL = 0.1  # customers who never open the card: their orders show the reminder and review


def seed_demo_stock(db_url: str) -> dict[str, int]:
    """Bins for every sample SKU and every installation kit, in warehouses with no stock yet."""
    engine = engine_for(db_url)
    have = {r.warehouse for w in WAREHOUSES for r in wh.stock_rows(engine, w)[:1]}
    rows = []
    for w in WAREHOUSES:
        if w in have:
            continue
        for i, (sku, name, *_rest) in enumerate(PRODUCTS):
            rows.append(dict(warehouse=w, bin=f"A-{1 + i // 6:02d}-{1 + i % 6:02d}", sku=sku, name=name, quantity=2000,
                             barcode=f"69{abs(hash(sku)) % 10**11:011d}", notes="易碎品轻拿" if "灯" in name else ""))
        for j, cat in enumerate(Category):
            rows.append(dict(warehouse=w, bin=f"K-01-{1 + j:02d}", sku=kit_sku(cat.value), name=f"安装套件({cat.value})",
                             quantity=500, barcode="", notes="随货附安装套件"))
    return wh.import_stock(engine, rows, replace=False) if rows else {}


class Floor:
    def __init__(self, settings: Settings, api_key: str, mini_url: str, seed: int = 7):
        self.api = httpx.Client(base_url=settings.api_base_url, headers={"X-API-Key": api_key}, timeout=30)
        self.mini_url = mini_url.rstrip("/")
        self.rnd = random.Random(seed)
        self.handled: set[tuple[str, int]] = set()
        self.last_close = time.monotonic()
        self.picked = self.confirmed = 0

    def pick(self) -> None:
        for w in WAREHOUSES:
            for _ in range(50):
                r = self.api.post(f"/v1/warehouse/{w}/claim", json={"device_id": f"SIM-{w}", "picker": "模拟拣货员"})
                if r.status_code != 200:
                    break
                t = r.json()
                if t.get("state") == "qc_pending":
                    self.api.post(f"/v1/warehouse/{w}/tasks/{t['task_id']}/qc", json={"passed": True, "inspector": "模拟质检员"})
                    continue
                r = self.api.post(f"/v1/warehouse/{w}/tasks/{t['task_id']}/confirm",
                                  json={"picked_qty": t["quantity"], "device_id": f"SIM-{w}", "picker": "模拟拣货员"})
                if r.status_code == 200 and r.json().get("state") == "qc_pending":
                    self.api.post(f"/v1/warehouse/{w}/tasks/{t['task_id']}/qc", json={"passed": True, "inspector": "模拟质检员"})
                self.picked += 1
        if time.monotonic() - self.last_close > CLOSE_WAVES_EVERY:
            self.last_close = time.monotonic()
            for w in WAREHOUSES:
                self.api.post(f"/v1/warehouse/{w}/close-waves")

    def customers(self) -> None:
        if not self.mini_url:
            return
        cards = httpx.get(f"{self.mini_url}/_control/cards", timeout=10).json().get("items", [])
        for card in cards:
            key = (card["order_id"], card["round"])
            if key in self.handled:
                continue
            self.handled.add(key)
            if self.rnd.random() < FORGETFUL:
                continue
            order = self.api.get(f"/v1/orders/{card['order_id']}")
            address = (order.json().get("order") or {}).get("address") if order.status_code == 200 else None
            c = geo.centroid(address["adcode"]) if address else None
            if c is None:
                continue
            r = httpx.post(card["url"] + "/confirm", json={"lat": c.lat + self.rnd.uniform(-0.02, 0.02),
                                                          "lng": c.lng + self.rnd.uniform(-0.02, 0.02)}, timeout=30)
            self.confirmed += r.status_code == 200 and r.json().get("accepted", False)

    def run(self, stop) -> None:
        while not stop():
            for step in (self.pick, self.customers):
                try:
                    step()
                except httpx.HTTPError as exc:
                    log.warning("%s: %s", step.__name__, exc)
            time.sleep(2.0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s floor-sim %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    s = Settings()
    migrate(s.db_url)
    seeded = seed_demo_stock(s.db_url)
    log.info("demo stock seeded: %s", seeded or "already there")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    floor = Floor(s, s.effective_api_key(), s.miniprogram_url)
    log.info("floor simulation running (pickers in %s, customers confirming cards)", ", ".join(WAREHOUSES))
    try:
        floor.run(lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
    log.info("stopped: %d tasks picked, %d delivery points confirmed", floor.picked, floor.confirmed)


if __name__ == "__main__":
    main()
