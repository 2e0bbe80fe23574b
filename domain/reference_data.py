"""Reference data the risk scan checks orders against: SKU floor prices and fitment, and the blacklist.

Kept apart from the checks so the console can edit it and the store can seed it; the DEFAULT set
matches the demo's sample products (devtools/zhongshu_devtools/sample_orders.py) so the demo trips realistic holds
rather than every order tripping one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.catalogue import VehicleModel, normalize_text


class SkuReference(BaseModel):
    """What the catalogue knows about a SKU: the lowest sane price and the cars it fits.

    An empty ``fitment`` means "not fitment-specific" (oil, tyres by size): no fitment check.
    """

    model_config = ConfigDict(str_strip_whitespace=True)
    sku: str = Field(min_length=1, max_length=64)
    name: str = ""
    floor_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    fitment: list[str] = Field(default_factory=list, description="VehicleModel names, e.g. TOYOTA_COROLLA_2018")

    @field_validator("sku")
    @classmethod
    def _upper(cls, v: str) -> str:
        return normalize_text(v).upper()  # cleansing upper-cases SKUs the same way

    @field_validator("fitment")
    @classmethod
    def _catalogue_codes(cls, v: list[str]) -> list[str]:
        unknown = [x for x in v if x not in VehicleModel.__members__]
        if unknown:
            raise ValueError(f"unknown vehicle model codes {unknown}; use VehicleModel names")
        return sorted(set(v))

    def fits(self, vehicle: str) -> bool:
        return not self.fitment or VehicleModel.UNIVERSAL.name in self.fitment or vehicle in self.fitment


class BlacklistKind(StrEnum):
    CUSTOMER = "customer"
    PHONE = "phone"  # stored in E.164, the form cleansing produces
    ADDRESS = "address"  # matched as a substring of the order's address (whitespace ignored)


class BlacklistEntry(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    kind: BlacklistKind
    value: str = Field(min_length=1, max_length=300)
    reason: str = Field(default="", max_length=300)
    created_at: datetime | None = None


def _ref(sku: str, name: str, floor: str, *fits: VehicleModel) -> SkuReference:
    return SkuReference(sku=sku, name=name, floor_price=Decimal(floor), fitment=[v.name for v in fits])


V = VehicleModel
DEFAULT_SKUS: list[SkuReference] = [
    _ref("BOSCH-BP-COROLLA18", "博世刹车片(前)", "120.00", V.TOYOTA_COROLLA_2018, V.NISSAN_SYLPHY_2020),
    _ref("BOSCH-BP-SYLPHY20", "博世刹车片(后)", "90.00", V.NISSAN_SYLPHY_2020),
    _ref("MANN-OF-W712", "曼牌机油滤清器", "25.00", V.VW_LAVIDA_2019, V.VW_SAGITAR_2019, V.VW_PASSAT_2020),
    _ref("MOBIL-1-5W30-4L", "美孚1号全合成机油 5W-30 4L", "220.00"),
    _ref("NGK-SP-ILKAR7", "NGK铱金火花塞", "40.00", V.HONDA_CIVIC_2020, V.HONDA_ACCORD_2018),
    _ref("VARTA-BAT-60AH", "瓦尔塔蓄电池 60Ah", "380.00"),
    _ref("ENG-1.5T-EA211", "EA211 1.5T 发动机总成", "8000.00", V.VW_SAGITAR_2019, V.VW_LAVIDA_2019, V.VW_PASSAT_2020),
    _ref("ENG-2.0-TOYOTA", "丰田2.0L 发动机总成", "10000.00", V.TOYOTA_CAMRY_2019),
    _ref("BOSCH-WIPER-24", "博世雨刮片 24寸", "30.00"),
    _ref("MICHELIN-205-55R16", "米其林轮胎 205/55R16", "420.00"),
]

DEFAULT_BLACKLIST: list[BlacklistEntry] = [
    BlacklistEntry(kind=BlacklistKind.CUSTOMER, value="SHOP-SZ-099", reason="2025年三次恶意拒收, 财务已追偿"),
    BlacklistEntry(kind=BlacklistKind.PHONE, value="+8613012340000", reason="冒用门店名义下单, 已报案"),
    BlacklistEntry(
        kind=BlacklistKind.ADDRESS, value="深圳市宝安区福永街道凤凰山大道1号", reason="历史虚假签收地址"
    ),
]
