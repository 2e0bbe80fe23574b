"""The review card's carrier choices (api/review_cards.carrier_choices) price the order's real weight
when its lines carry one: a 40 kg order is too heavy for 中通 (max 30 kg) and heavy enough for 德邦
(min 30 kg); without weights a minimum-weight rule is not held against it (the decision re-checks)."""

from datetime import UTC, datetime
from decimal import Decimal

from api.review_cards import carrier_choices
from domain.contracts.order import LineView, OrderView
from domain.default_rules import build_default_rules
from domain.order import ResolvedAddress

HANGZHOU = ResolvedAddress(province="浙江省", city="杭州市", district="萧山区", adcode="330109", detail="金城路188号",
                           text="浙江省杭州市萧山区金城路188号")


def view(weight: Decimal | None) -> OrderView:
    line = LineView(line_no=1, sku="ENGINE-1", name="发动机总成", category="发动机总成", quantity=1,
                    unit_price=Decimal("800.00"), weight_kg=weight)
    return OrderView.model_construct(address=HANGZHOU, routing=None, goods_amount=Decimal("800.00"),
                                     ordered_at=datetime.now(UTC), lines=[line])


def by_code(choices):
    return {c["code"]: c for c in choices}


def test_a_heavy_order_is_priced_with_its_weight():
    c = by_code(carrier_choices(build_default_rules(), view(Decimal("40"))))
    assert not c["ZTO"]["eligible"] and c["ZTO"]["excluded"].startswith("超重")
    assert c["DEBANG"]["eligible"]
    assert Decimal(c["SF"]["freight"]) > Decimal("23")  # more than the first kilogram


def test_without_weights_a_minimum_weight_is_not_held_against_the_order():
    c = by_code(carrier_choices(build_default_rules(), view(None)))
    assert c["DEBANG"]["eligible"] and c["ZTO"]["eligible"]


def test_a_light_order_with_its_weight_is_under_the_minimum():
    c = by_code(carrier_choices(build_default_rules(), view(Decimal("2"))))
    assert not c["DEBANG"]["eligible"] and c["DEBANG"]["excluded"].startswith("低于最低重量")
