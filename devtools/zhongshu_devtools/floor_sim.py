"""The demo's people, for `make up`: pickers with scanners in three warehouses, customers who
confirm their delivery point, and a few who come back for aftersales — so demo orders go all the
way to signed, and the aftersales page has cases (a return QC'd at the warehouse, an exchange).

It uses only the public interfaces a real floor and real customers use: the device API (claim,
confirm, QC) with the service key, the close-waves call the warehouse lead makes at the truck, the
cards the fake mini-program received and the confirmation page's POST. It seeds demo stock (the
sample catalogue and installation kits) into warehouses that have none. The carriers' fake runs on
autopilot, so shipped parcels are tracked to signed by signed pushes into the API.

Run by `zhongshu up` as the ``floor-sim`` child; `python -m zhongshu_devtools.floor_sim` on its own.
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
from zhongshu.settings import Settings
from zhongshu_devtools.sample_orders import PRODUCTS

log = logging.getLogger("zhongshu_devtools.floor_sim")
UNTRACED_AGENT = "zhongshu-floor-sim"  # the API does not trace the simulator's polling (ZHONGSHU_OTEL_UNTRACED_USER_AGENTS)
WAREHOUSES = ["HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"]
CLOSE_WAVES_EVERY = 45.0  # seconds: the lead closes open waves for the next truck
FORGETFUL = 0.1  # customers who never open the card: their orders show the reminder and review
AFTERSALES = ("return", "exchange", "refund_only")  # the first delivered orders' customers ask for these


def seed_demo_stock(db_url: str) -> dict[str, int]:
    """Bins for every sample SKU and every installation kit, in warehouses with no stock yet."""
    engine = engine_for(db_url)
    have = {w for w in WAREHOUSES if wh.stock_rows(engine, w)}
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
        self.api = httpx.Client(base_url=settings.api_base_url, headers={"X-API-Key": api_key, "User-Agent": UNTRACED_AGENT},
                               timeout=30)
        self.mini_url = mini_url.rstrip("/")
        self.rnd = random.Random(seed)
        self.handled: set[tuple[str, int]] = set()
        self.last_close = time.monotonic()
        self.picked = self.confirmed = 0
        self.cases: list[str] = []  # orders an aftersales case was opened for

    def pick(self) -> None:
        for w in WAREHOUSES:
            for _ in range(50):
                r = self.api.post(f"/v1/warehouse/{w}/claim", json={"device_id": f"SIM-{w}", "picker": "模拟拣货员"})
                if r.status_code != 200:
                    break
                t = r.json()
                r = self.api.post(f"/v1/warehouse/{w}/tasks/{t['task_id']}/confirm",
                                  json={"picked_qty": t["quantity"], "device_id": f"SIM-{w}", "picker": "模拟拣货员"})
                if r.status_code == 200 and r.json().get("state") == "qc_pending":  # categories checked before packing
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
            address = order.json().get("address") if order.status_code == 200 else None  # the one OrderView shape
            c = geo.centroid(address["adcode"]) if address else None
            if c is None:
                continue
            r = httpx.post(card["url"] + "/confirm", headers={"User-Agent": UNTRACED_AGENT}, json={"lat": c.lat + self.rnd.uniform(-0.02, 0.02),
                                                          "lng": c.lng + self.rnd.uniform(-0.02, 0.02)}, timeout=30)
            self.confirmed += r.status_code == 200 and r.json().get("accepted", False)

    def aftersales(self) -> None:
        """A few delivered orders come back: a return, an exchange, a refund; returned parcels pass QC
        at the warehouse (the fake carriers' autopilot tracks the return parcel to our door)."""
        if len(self.cases) < len(AFTERSALES):
            delivered = self.api.get("/v1/orders", params={"status": "delivered", "limit": 20}).json().get("items", [])
            for row in delivered:
                if row["order_id"] in self.cases or len(self.cases) >= len(AFTERSALES):
                    continue
                order = self.api.get(f"/v1/orders/{row['order_id']}").json()
                lines = (order.get("order") or {}).get("lines") or []
                if not lines:
                    continue
                kind = AFTERSALES[len(self.cases)]
                r = self.api.post(f"/v1/orders/{row['order_id']}/aftersales", json={
                    "type": kind, "lines": [{"sku": lines[0]["sku"], "quantity": 1}],
                    "reason": {"return": "尺寸不符", "exchange": "刹车片异响", "refund_only": "少发一件"}[kind],
                    "requested_by": "模拟客户"})
                if r.status_code in (201, 202):
                    self.cases.append(row["order_id"])
        for case in self.api.get("/v1/aftersales", params={"status": "qc_pending"}).json().get("items", []):
            self.api.post(f"/v1/aftersales/{case['case_id']}/qc", json={"passed": True, "inspector": "模拟质检员"})

    def run(self, stop) -> None:
        while not stop():
            for step in (self.pick, self.customers, self.aftersales):
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
