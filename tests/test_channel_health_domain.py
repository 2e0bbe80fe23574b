"""Pure rules of channel health and push checks: when a sync is failed or stalled, when a pushed
channel is silent, which delivery is newer, when a signed push is too old, and what the alert says.
Every time comes from a ``now`` the test sets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.channels import delivery_version
from domain.channels import douyin as douyin_mapper
from domain.channels.health import (
    HealthAlert,
    HealthState,
    PushRatePolicy,
    SyncHealthPolicy,
    add_gap,
    beijing_day,
    push_state,
    render_alert,
    silence_threshold,
    sync_state,
)
from domain.channels.signing import douyin_sign, douyin_verify, push_age_problem
from domain.redelivery import DeliveryVersion, Freshness, freshness
from fakes import douyin as fake_douyin

NOW = datetime(2027, 2, 6, 23, 59, 50, tzinfo=timezone(timedelta(hours=8)))  # 除夕, just before midnight
S = HealthState


@pytest.mark.parametrize("last_success, error, expected", [
    (NOW - timedelta(seconds=30), None, S.RUNNING),
    (NOW - timedelta(seconds=89), None, S.RUNNING),
    (NOW - timedelta(seconds=90), None, S.STALLED),  # 3 × 30 s without a successful poll
    (NOW - timedelta(seconds=10), "tmall: error 25 Invalid signature", S.FAILED),
    (NOW - timedelta(hours=1), "timed out", S.FAILED),  # a failing poll says more than the silence
    (None, None, S.RUNNING),  # just started: measured from the start
])
def test_sync_state(last_success, error, expected):
    since = NOW - timedelta(seconds=60)
    got = sync_state(now=NOW, since=since, last_success_at=last_success, last_error=error,
                     poll_interval_seconds=30, policy=SyncHealthPolicy(stall_after_polls=3))
    assert got == expected
    assert got.red == (expected != S.RUNNING)


def test_never_succeeded_since_start_is_stalled():
    assert sync_state(now=NOW, since=NOW - timedelta(minutes=5), last_success_at=None, last_error=None,
                      poll_interval_seconds=30, policy=SyncHealthPolicy()) == S.STALLED


def test_push_silence_is_relative_to_the_usual_rate():
    policy = PushRatePolicy(factor=10, min_silence_seconds=600, learn_gaps=3)
    gaps: list[float] = []
    t = NOW
    for _ in range(3):  # a push every 2 minutes
        gaps = add_gap(gaps, t, t + timedelta(minutes=2), policy)
        t += timedelta(minutes=2)
    assert silence_threshold(gaps[:2], policy) is None  # still learning
    assert silence_threshold(gaps, policy) == timedelta(minutes=20)
    assert push_state(now=t + timedelta(minutes=19), last_push_at=t, gaps=gaps, policy=policy) == S.RUNNING
    assert push_state(now=t + timedelta(minutes=20), last_push_at=t, gaps=gaps, policy=policy) == S.SILENT
    busy = [1.0] * 10  # a push a second: never alarmed within the minimum
    assert silence_threshold(busy, policy) == timedelta(minutes=10)
    assert push_state(now=t, last_push_at=None, gaps=[], policy=policy) == S.LEARNING
    assert add_gap(gaps, t, t, policy) == gaps  # the same instant is one burst
    assert len(add_gap([1.0] * 60, t, t + timedelta(seconds=1), policy)) == policy.keep_gaps


@pytest.mark.parametrize("incoming, current, expected", [
    (DeliveryVersion(updated_at=NOW), None, Freshness.NEWER),
    (DeliveryVersion(updated_at=NOW), DeliveryVersion(updated_at=NOW - timedelta(seconds=1)), Freshness.NEWER),
    (DeliveryVersion(updated_at=NOW), DeliveryVersion(updated_at=NOW), Freshness.SAME),
    (DeliveryVersion(updated_at=NOW - timedelta(seconds=5)), DeliveryVersion(updated_at=NOW), Freshness.OLDER),
    (DeliveryVersion(version=2, updated_at=NOW), DeliveryVersion(version=3, updated_at=NOW - timedelta(days=1)),
     Freshness.OLDER),  # the version decides when both have one
    (None, DeliveryVersion(updated_at=NOW), Freshness.UNKNOWN),
    (DeliveryVersion(), DeliveryVersion(updated_at=NOW), Freshness.UNKNOWN),
    (DeliveryVersion(version=1), DeliveryVersion(updated_at=NOW), Freshness.UNKNOWN),
])
def test_freshness(incoming, current, expected):
    assert freshness(incoming, current) == expected


def test_channel_versions_from_raw_payloads():
    unix = int(NOW.timestamp())
    assert delivery_version("douyin", {"update_time": unix}).updated_at == NOW
    assert delivery_version("douyin", {"update_time": unix * 1000}).updated_at == NOW  # milliseconds
    assert delivery_version("douyin", {"shop_order_id": "1"}) is None
    assert delivery_version("tmall", {"modified": "2027-02-06 23:59:50"}).updated_at == NOW  # China local
    assert delivery_version("tmall", {"modified": "not a time"}) is None
    assert delivery_version("miniprogram", {"out_trade_no": "MP1"}) is None  # the channel gives none


def test_a_push_carries_its_time_and_is_checked_within_the_window():
    unix = int(NOW.timestamp())
    assert douyin_mapper.message_time({"update_time": unix, "pay_time": unix - 100}) == NOW
    assert douyin_mapper.message_time({"p_id": 1, "pay_time": unix}) == NOW  # an ids-only paid push
    assert douyin_mapper.message_time({"p_id": 1}) is None
    assert push_age_problem(NOW - timedelta(seconds=299), NOW, window_seconds=300) is None
    assert "outside the 300 s window" in push_age_problem(NOW - timedelta(seconds=301), NOW, window_seconds=300)
    assert "in the future" in push_age_problem(NOW + timedelta(seconds=61), NOW, window_seconds=300)
    assert push_age_problem(NOW + timedelta(seconds=59), NOW, window_seconds=300) is None
    assert "no timestamp" in push_age_problem(None, NOW, window_seconds=300)
    assert push_age_problem(None, NOW, window_seconds=0) is None  # switched off


def test_the_fake_signs_pushes_as_the_platform_does():
    """抖店 message push: event-sign = md5(app_key + body + app_secret) (what the platform's SDKs
    verify, and what a push without sign-method means), or HMAC-SHA256 with sign-method."""
    body = fake_douyin.push_body([fake_douyin.sample_order(1, seed=1)])
    h = fake_douyin.signed_headers(body, "app", "sec", None)
    assert "sign-method" not in h
    assert h["event-sign"] == hashlib.md5(b"app" + body + b"sec").hexdigest()
    assert douyin_verify("app", "sec", body, h["event-sign"], None)
    hmac_sign = douyin_sign("app", "sec", body, "hmac-sha256")
    assert fake_douyin.signed_headers(body, "app", "sec")["event-sign"] == hmac_sign
    assert not douyin_verify("app", "sec", body, hmac_sign, None)  # not MD5
    assert douyin_mapper.message_id({"msg_id": "7001"}) == "7001" and douyin_mapper.message_id({}) is None


def test_alert_text():
    a = HealthAlert(account_id="tmall-hz", channel="tmall", kind="sync", state=S.FAILED, previous=S.RUNNING, at=NOW,
                    last_success_at=NOW - timedelta(minutes=3), last_error="tmall: error 25 Invalid signature",
                    console_url="http://console:8501/")
    text = render_alert(a)
    assert "🔴 渠道同步异常 · 天猫 tmall-hz" in text and "失败 (failed)" in text and "Invalid signature" in text
    assert "02-06 23:56:50" in text and "[查看渠道健康](http://console:8501/channels)" in text
    ok = render_alert(a.model_copy(update={"state": S.RUNNING, "previous": S.FAILED}))
    assert "🟢 渠道同步已恢复" in ok and "此前 失败" in ok and "Invalid signature" not in ok
    silent = render_alert(HealthAlert(account_id="douyin", channel="douyin", kind="webhook", state=S.SILENT, at=NOW))
    assert "渠道推送异常 · 抖音 douyin" in silent and "最近一次推送:无" in silent
    huge = render_alert(a.model_copy(update={"detail": "x" * 10000}))
    assert len(huge.encode()) <= 4000


def test_beijing_day():
    assert beijing_day(NOW) == "2027-02-06"
    assert beijing_day(NOW + timedelta(seconds=10)) == "2027-02-07"  # 春节
    assert beijing_day(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01-01"
