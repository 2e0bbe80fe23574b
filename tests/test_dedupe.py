"""domain/dedupe.py: same phone + same SKU within 5 minutes → the later order folds into the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.dedupe import DedupeKey, dedupe_keys, first_collision

WINDOW = timedelta(minutes=5)
T0 = datetime(2026, 12, 12, 10, 0, 0, tzinfo=UTC)
PHONE = "+8613812345678"
OTHER_PHONE = "+8613912345678"


def keys(order_id: str, *skus: str, at: datetime = T0, phone: str = PHONE) -> list[DedupeKey]:
    return dedupe_keys(order_id, phone, list(skus), at)


# --- dedupe_keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skus", "expected"),
    [
        (["A"], ["A"]),
        (["B", "A"], ["A", "B"]),
        (["B", "A", "B", "A", "C"], ["A", "B", "C"]),
        (["X", "X", "X"], ["X"]),
        ([], []),
    ],
)
def test_dedupe_keys_one_per_distinct_sku_sorted(skus, expected):
    ks = dedupe_keys("order-tmall-1", PHONE, skus, T0)
    assert [k.sku for k in ks] == expected
    assert all(k.order_id == "order-tmall-1" for k in ks)
    assert all(k.phone == PHONE for k in ks)
    assert all(k.ordered_at == T0 for k in ks)


def test_dedupe_keys_do_not_mutate_input():
    skus = ["B", "A", "B"]
    dedupe_keys("o", PHONE, skus, T0)
    assert skus == ["B", "A", "B"]


# --- first_collision: hits ------------------------------------------------------------------


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(minutes=1),
        timedelta(minutes=4, seconds=59),
        timedelta(minutes=4, seconds=59, microseconds=999999),
        timedelta(minutes=5),  # exactly at the 5:00 boundary counts
        -timedelta(minutes=5),  # in either direction (late-delivered earlier order)
        -timedelta(minutes=2),
    ],
)
def test_same_phone_same_sku_within_window_collides(delta):
    existing = keys("order-tmall-1", "A", at=T0)
    mine = keys("order-tmall-2", "A", at=T0 + delta)
    hit = first_collision(mine, existing, WINDOW)
    assert hit is not None
    assert hit.order_id == "order-tmall-1"
    assert hit.sku == "A"


def test_collision_on_one_shared_sku_among_several():
    existing = keys("order-tmall-1", "A", "B")
    mine = keys("order-douyin-9", "C", "B", "D", at=T0 + timedelta(minutes=3))
    hit = first_collision(mine, existing, WINDOW)
    assert hit is not None and hit.order_id == "order-tmall-1" and hit.sku == "B"


def test_collision_across_channels():
    existing = keys("order-tmall-1", "A")
    mine = keys("order-miniprogram-1", "A", at=T0 + timedelta(seconds=30))
    assert first_collision(mine, existing, WINDOW).order_id == "order-tmall-1"


# --- first_collision: misses ----------------------------------------------------------------


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(minutes=5, seconds=1),
        timedelta(minutes=5, microseconds=1),
        -timedelta(minutes=5, seconds=1),
        timedelta(hours=1),
        timedelta(days=1),
    ],
)
def test_outside_window_no_collision(delta):
    existing = keys("order-tmall-1", "A", at=T0)
    mine = keys("order-tmall-2", "A", at=T0 + delta)
    assert first_collision(mine, existing, WINDOW) is None


def test_different_phone_no_collision():
    existing = keys("order-tmall-1", "A", phone=OTHER_PHONE)
    mine = keys("order-tmall-2", "A")
    assert first_collision(mine, existing, WINDOW) is None


def test_different_sku_no_collision():
    existing = keys("order-tmall-1", "A", "B")
    mine = keys("order-tmall-2", "C", "D")
    assert first_collision(mine, existing, WINDOW) is None


def test_own_order_id_no_collision():
    """A retried activity sees its own keys in the store: never a duplicate of itself."""
    mine = keys("order-tmall-1", "A", "B")
    assert first_collision(mine, list(mine), WINDOW) is None


def test_own_order_ignored_but_other_found():
    mine = keys("order-tmall-2", "A", at=T0 + timedelta(minutes=1))
    existing = list(mine) + keys("order-tmall-1", "A", at=T0)
    assert first_collision(mine, existing, WINDOW).order_id == "order-tmall-1"


@pytest.mark.parametrize(("mine", "existing"), [([], []), ([], keys("o1", "A")), (keys("o2", "A"), [])])
def test_empty_inputs(mine, existing):
    assert first_collision(mine, existing, WINDOW) is None


def test_same_phone_and_sku_but_split_across_keys_is_no_collision():
    """Phone from one key and SKU from another do not combine into a hit."""
    existing = keys("o1", "A", phone=OTHER_PHONE) + keys("o1b", "B")
    mine = keys("o2", "A")
    assert first_collision(mine, existing, WINDOW) is None


# --- first_collision: choosing among several ------------------------------------------------


def test_picks_earliest_among_several():
    existing = (
        keys("order-tmall-3", "A", at=T0 + timedelta(minutes=2))
        + keys("order-tmall-1", "A", at=T0 - timedelta(minutes=3))
        + keys("order-tmall-2", "A", at=T0 - timedelta(minutes=1))
    )
    mine = keys("order-tmall-9", "A", at=T0)
    assert first_collision(mine, existing, WINDOW).order_id == "order-tmall-1"


def test_earliest_is_chosen_regardless_of_input_order():
    a = keys("order-a", "A", at=T0 - timedelta(minutes=4))
    b = keys("order-b", "A", at=T0 - timedelta(minutes=2))
    mine = keys("order-z", "A", at=T0)
    assert first_collision(mine, a + b, WINDOW).order_id == "order-a"
    assert first_collision(mine, b + a, WINDOW).order_id == "order-a"


def test_earliest_within_window_ignores_earlier_outside_window():
    existing = keys("order-old", "A", at=T0 - timedelta(minutes=10)) + keys(
        "order-new", "A", at=T0 - timedelta(minutes=4)
    )
    mine = keys("order-z", "A", at=T0)
    assert first_collision(mine, existing, WINDOW).order_id == "order-new"


def test_earliest_across_different_skus():
    existing = keys("order-b", "B", at=T0 - timedelta(minutes=1)) + keys("order-a", "A", at=T0 - timedelta(minutes=4))
    mine = keys("order-z", "A", "B", at=T0)
    hit = first_collision(mine, existing, WINDOW)
    assert (hit.order_id, hit.sku) == ("order-a", "A")


def test_tie_on_time_broken_by_order_id():
    existing = keys("order-b", "A", at=T0) + keys("order-a", "A", at=T0)
    mine = keys("order-z", "A", at=T0 + timedelta(minutes=1))
    assert first_collision(mine, existing, WINDOW).order_id == "order-a"
    assert first_collision(mine, list(reversed(existing)), WINDOW).order_id == "order-a"


@pytest.mark.parametrize(
    ("window", "hit"), [(timedelta(minutes=1), False), (timedelta(minutes=10), True), (timedelta(0), False)]
)
def test_window_is_a_parameter(window, hit):
    existing = keys("o1", "A", at=T0)
    mine = keys("o2", "A", at=T0 + timedelta(minutes=3))
    assert (first_collision(mine, existing, window) is not None) is hit


def test_zero_window_still_catches_identical_time():
    existing = keys("o1", "A", at=T0)
    mine = keys("o2", "A", at=T0)
    assert first_collision(mine, existing, timedelta(0)).order_id == "o1"


def test_timezones_compared_as_instants():
    cst = timezone(timedelta(hours=8))
    existing = keys("o1", "A", at=datetime(2026, 12, 12, 18, 0, tzinfo=cst))  # = T0
    mine = keys("o2", "A", at=T0 + timedelta(minutes=5))
    assert first_collision(mine, existing, WINDOW).order_id == "o1"
