"""Signing, the token cache, and our channel clients against the shipped fake servers (no Temporal)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC

import httpx
import pytest

from activities.channels import (
    ChannelAccount,
    ChannelError,
    DouyinClient,
    DouyinOrderNotFound,
    ErpClient,
    TokenCache,
    TopClient,
)
from domain.channels.signing import (
    douyin_sign,
    douyin_verify,
    kingdee_sign,
    kingdee_verify,
    top_sign,
    top_verify,
)
from fakes import douyin as fake_douyin
from fakes import erp as fake_erp
from fakes import tmall as fake_tmall
from fakes.serve import serve_in_thread

# ------------------------------------------------------------------------------------ signing


def test_top_sign_matches_the_documented_md5_recipe():
    params = {"method": "taobao.trades.sold.increment.get", "app_key": "12345678", "timestamp": "2026-11-27 10:00:00",
              "v": "2.0", "sign_method": "md5", "session": "", "fields": "tid,status"}
    s = "app_key12345678fieldstid,statusmethodtaobao.trades.sold.increment.getsign_methodmd5timestamp2026-11-27 10:00:00v2.0"
    assert top_sign(params, "secret") == hashlib.md5(("secret" + s + "secret").encode()).hexdigest().upper()
    assert top_sign(params, "secret", "hmac-sha256") == hmac.new(b"secret", s.encode(), hashlib.sha256).hexdigest().upper()


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_top_verify_accepts_signed_and_rejects_tampered(method):
    p = {"method": "m", "app_key": "k", "page_no": "1", "sign_method": method, "receiver": "王建国"}
    p["sign"] = top_sign(p, "s3cret", method)
    assert top_verify(p, "s3cret")
    assert not top_verify({**p, "page_no": "2"}, "s3cret")
    assert not top_verify(p, "other")
    assert not top_verify({**p, "sign_method": "sha1"}, "s3cret")


def test_douyin_and_kingdee_signatures():
    body = b'[{"tag":"101","data":"{\\"shop_order_id\\":\\"1\\"}"}]'
    for method in ("hmac-sha256", "md5"):
        sig = douyin_sign("app", "sec", body, method)
        assert douyin_verify("app", "sec", body, sig, method)
        assert not douyin_verify("app", "sec", body + b" ", sig, method)
        assert not douyin_verify("app", "wrong", body, sig, method)
    assert not douyin_verify("app", "", body, douyin_sign("app", "", body), None)  # no secret: never valid
    sig = kingdee_sign("s", "POST", "/k3cloud/save", "1796176800", "abc")
    assert kingdee_verify("s", "POST", "/k3cloud/save", "1796176800", "abc", sig)
    assert not kingdee_verify("s", "POST", "/k3cloud/query", "1796176800", "abc", sig)


# ------------------------------------------------------------------------------------ token cache


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


async def test_token_refreshes_ahead_of_expiry_once_for_a_crowd():
    clock, calls = Clock(), []

    async def fetch():
        calls.append(clock.t)
        await asyncio.sleep(0.05)
        return f"tok{len(calls)}", 300.0

    cache = TokenCache(fetch, refresh_ahead=60, clock=clock)
    assert set(await asyncio.gather(*[cache.get() for _ in range(100)])) == {"tok1"}  # one fetch, not 100
    assert len(calls) == 1
    clock.t += 200  # 100 s left: still fresh
    assert await cache.get() == "tok1" and len(calls) == 1
    clock.t += 45  # 55 s left: inside the refresh window, still valid
    got = await asyncio.gather(*[cache.get() for _ in range(50)])
    assert len(calls) == 2  # one refresh ahead of expiry …
    assert set(got) <= {"tok1", "tok2"} and "tok1" in got  # … while the others kept the still-valid token
    assert await cache.get() == "tok2"


async def test_token_expired_everyone_waits_for_one_fetch_and_invalidate_forces_a_new_one():
    clock, n = Clock(), {"calls": 0}

    async def fetch():
        n["calls"] += 1
        await asyncio.sleep(0.02)
        return f"tok{n['calls']}", 30.0

    cache = TokenCache(fetch, refresh_ahead=60, clock=clock)  # window capped at a third of the life: 10 s
    await cache.get()
    clock.t += 31
    assert set(await asyncio.gather(*[cache.get() for _ in range(20)])) == {"tok2"} and n["calls"] == 2
    cache.invalidate("tok-other")  # not ours: ignored
    assert await cache.get() == "tok2"
    cache.invalidate("tok2")
    assert await cache.get() == "tok3"


# ------------------------------------------------------------------------------------ TOP client


@pytest.fixture(scope="module")
def tmall_server():
    server = serve_in_thread(fake_tmall.create_app())
    yield server
    server.stop()


@pytest.fixture
def tmall(tmall_server):
    state = tmall_server._server.config.app.state.tmall
    state.reset()
    return tmall_server, state


def top_account(url, secret=fake_tmall.APP_SECRET, **options):
    return ChannelAccount(account_id="tmall-test", channel="tmall", base_url=f"{url}/router/rest",
                          app_key=fake_tmall.APP_KEY, app_secret=secret, options={"timeout_seconds": 2, **options})


async def test_top_client_pages_a_window(tmall):
    server, state = tmall
    state.generate(23)
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        c = TopClient(top_account(server.url), http)
        seen = []
        for page in (1, 2, 3):
            trades, total, has_next = await c.increment(now - timedelta(hours=1), now + timedelta(seconds=5), page, 10)
            seen += [t["tid"] for t in trades]
            assert total == 23 and has_next == (page < 3)
        assert len(set(seen)) == 23
    assert state.tokens_issued == 1 and state.bad_signatures == 0


async def test_top_wrong_secret_is_a_configuration_error(tmall):
    server, state = tmall
    from datetime import datetime

    async with httpx.AsyncClient() as http:
        acc = top_account(server.url)
        c = TopClient(acc, http)
        await c.tokens.get()  # the session itself is fine …
        c.account = acc.model_copy(update={"app_secret": "leaked-and-rotated"})  # … the signature is not
        with pytest.raises(ChannelError) as exc:
            await c.increment(datetime.now(UTC), datetime.now(UTC), 1, 10)
    assert exc.value.code == 25 and not exc.value.retryable
    assert state.bad_signatures == 1


async def test_top_5xx_and_timeout_are_retryable(tmall):
    server, state = tmall
    from datetime import datetime

    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        c = TopClient(top_account(server.url, timeout_seconds=0.3), http)
        await c.tokens.get()
        state.faults.fail_count, state.faults.fail_status = 1, 502
        with pytest.raises(ChannelError) as exc:
            await c.increment(now, now, 1, 10)
        assert exc.value.retryable and exc.value.status_code == 502
        state.faults.timeout_count, state.faults.timeout_seconds = 1, 1.0
        with pytest.raises(ChannelError, match="timed out") as exc:
            await c.increment(now, now, 1, 10)
        assert exc.value.retryable
        # and then it works again (a roomier timeout: a loaded CI machine can be slow to connect)
        await TopClient(top_account(server.url, timeout_seconds=10), http).increment(now, now, 1, 10)


async def test_top_session_refreshed_before_it_expires(tmall):
    server, state = tmall
    from datetime import datetime

    state.session_ttl = 1.5  # the refresh window is a third of that: 0.5 s
    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        c = TopClient(top_account(server.url), http)
        await c.increment(now, now, 1, 10)
        await asyncio.sleep(1.1)  # 0.4 s left: refreshed ahead, the channel never sees an expired session
        await c.increment(now, now, 1, 10)
    assert state.tokens_issued == 2 and state.expired_sessions == 0


async def test_top_session_revoked_is_renewed_once(tmall):
    server, state = tmall
    from datetime import datetime

    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        c = TopClient(top_account(server.url), http)
        await c.increment(now, now, 1, 10)
        state.sessions.clear()  # revoked on the channel's side
        await c.increment(now, now, 1, 10)
    assert state.expired_sessions == 1 and state.tokens_issued == 2


# ------------------------------------------------------------------------------------ ERP client


@pytest.fixture(scope="module")
def erp_server():
    server = serve_in_thread(fake_erp.create_app())
    yield server
    server.stop()


def erp_account(url, **options):
    return ChannelAccount(account_id="erp", channel="erp", base_url=url, app_key=fake_erp.CLIENT_ID,
                          app_secret=fake_erp.CLIENT_SECRET, options={"timeout_seconds": 2, **options})


async def test_erp_save_is_idempotent_and_logs_in_once_for_many(erp_server):
    from domain.channels.erp import to_erp_bill
    from domain.cleansing import cleanse
    from domain.order import OrderSubmission
    from tests.support import order_payload

    state = erp_server._server.config.app.state.erp
    orders = [cleanse(OrderSubmission.model_validate(order_payload())).order for _ in range(20)]
    async with httpx.AsyncClient() as http:
        c = ErpClient(erp_account(erp_server.url), http)
        logins = state.logins
        numbers = await asyncio.gather(*[c.save(to_erp_bill(o)) for o in orders])
        again = await c.save(to_erp_bill(orders[0]))
    assert state.logins == logins + 1  # single-flight: 20 concurrent pushes, one login
    assert len(set(numbers)) == 20 and again == numbers[0]


async def test_erp_down_is_retryable_and_bad_signature_is_not(erp_server):
    from datetime import datetime

    state = erp_server._server.config.app.state.erp
    async with httpx.AsyncClient() as http:
        c = ErpClient(erp_account(erp_server.url), http)
        state.down = True
        try:
            with pytest.raises(ChannelError) as exc:
                await c.query(datetime(2026, 1, 1, tzinfo=UTC), 0, 10)
            assert exc.value.retryable and exc.value.status_code == 503
        finally:
            state.down = False
        bad = ErpClient(erp_account(erp_server.url).model_copy(update={"app_secret": "nope"}), http)
        with pytest.raises(ChannelError) as exc:
            await bad.query(datetime(2026, 1, 1, tzinfo=UTC), 0, 10)
        assert not exc.value.retryable and exc.value.status_code == 401


# ------------------------------------------------------------------------------------ Douyin open API client


@pytest.fixture(scope="module")
def douyin_server():
    server = serve_in_thread(fake_douyin.create_app())
    yield server
    server.stop()


@pytest.fixture
def douyin(douyin_server):
    state = douyin_server._server.config.app.state.douyin
    state.reset()
    return douyin_server, state


def douyin_account(server, state, **options):
    return ChannelAccount(account_id="douyin", channel="douyin", base_url=server.url, app_key=state.app_key,
                          app_secret=state.app_secret, options={"timeout_seconds": 2, **options})


async def test_douyin_detail_is_fetched_signed_with_one_token_per_shop(douyin):
    server, state = douyin
    orders = [fake_douyin.sample_order(i, seed=900 + i) for i in range(5)]
    state.keep(orders)
    async with httpx.AsyncClient() as http:
        c = DouyinClient(douyin_account(server, state), http)
        got = await asyncio.gather(*[c.order_detail(o["shop_order_id"], state.shop_id) for o in orders])
        assert [g["shop_order_id"] for g in got] == [o["shop_order_id"] for o in orders]
        assert got[0]["post_addr"] == orders[0]["post_addr"]
        await c.order_detail(orders[0]["shop_order_id"], "5550001")  # another shop: its own token
    assert state.tokens_issued == 2 and state.bad_signatures == 0 and state.details_served == 6


async def test_douyin_unknown_order_bad_secret_5xx_timeout_and_expired_token(douyin):
    server, state = douyin
    order = fake_douyin.sample_order(1, seed=901)
    state.keep([order])
    oid = order["shop_order_id"]
    async with httpx.AsyncClient() as http:
        c = DouyinClient(douyin_account(server, state, timeout_seconds=0.5), http)
        with pytest.raises(DouyinOrderNotFound) as exc:  # HTTP 404, code 50002
            await c.order_detail("6900000000000000001")
        assert not exc.value.retryable and exc.value.status_code == 404 and state.not_found == 1
        state.faults.fail_count, state.faults.fail_status = 1, 502
        with pytest.raises(ChannelError) as exc:
            await c.order_detail(oid)
        assert exc.value.retryable and exc.value.status_code == 502
        state.faults.timeout_count, state.faults.timeout_seconds = 1, 1.5
        with pytest.raises(ChannelError, match="timed out") as exc:
            await c.order_detail(oid)
        assert exc.value.retryable
        state.tokens.clear()  # the platform revoked the token: renewed once, the call succeeds
        assert (await c.order_detail(oid))["shop_order_id"] == oid
        assert state.expired_tokens == 1
        bad = DouyinClient(douyin_account(server, state).model_copy(update={"app_secret": "rotated"}), http)
        with pytest.raises(ChannelError) as exc:
            await bad.order_detail(oid)
        assert exc.value.code == 30001 and not exc.value.retryable
