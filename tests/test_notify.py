"""activities/notify.py against the fake WeCom robot (devtools/fakes/wecom.py) over real HTTP.

Covers the wire format, the robot's errcodes, retry (a plain loop and Temporal's RetryPolicy),
the no-robot dev mode, and that neither phone numbers nor the robot key reach the logs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.notify import (
    MARKDOWN_MAX_BYTES,
    NotifyActivities,
    NotifyRequest,
    WeComClient,
    WeComError,
    console_link,
    mask_phones,
    redact_url,
    render_review_todo,
)
from fakes.serve import serve_in_thread
from fakes.wecom import create_app

KEY = "robot-key-6f1d2c-SECRET"
CONSOLE = "http://console.example:8501"


@pytest.fixture(scope="module")
def server():
    with serve_in_thread(create_app()) as srv:
        yield srv


@pytest.fixture
def wecom(server):
    """The fake, reset; ``.webhook`` is the robot URL and ``.messages()`` what it accepted."""
    httpx.post(f"{server.url}/_control/reset").raise_for_status()

    class Handle:
        url = server.url
        webhook = f"{server.url}/cgi-bin/webhook/send?key={KEY}"

        @staticmethod
        def messages() -> list[dict]:
            return httpx.get(f"{server.url}/messages").json()["items"]

        @staticmethod
        def state() -> dict:
            return httpx.get(f"{server.url}/_control/state").json()

        @staticmethod
        def fail_next(count: int, status: int = 500, errcode: int | None = None) -> None:
            params = {"count": count, "status": status} | ({"errcode": errcode} if errcode is not None else {})
            httpx.post(f"{server.url}/_control/fail_next", params=params).raise_for_status()

    return Handle


def request(**kw) -> NotifyRequest:
    base = dict(
        order_id="order-douyin-DY20241212001",
        kind="risk",
        reason="电话 +8613812345678 不是有效的中国大陆号码",
        features=["INVALID_PHONE", "BURST_SAME_ADDRESS"],
        console_url=CONSOLE,
        escalated=False,
    )
    return NotifyRequest(**(base | kw))


# ---------------------------------------------------------------- the fake robot itself


def post(wecom, body, key: str | None = KEY) -> dict:
    url = f"{wecom.url}/cgi-bin/webhook/send" + (f"?key={key}" if key is not None else "")
    r = httpx.post(url, json=body)
    assert r.status_code == 200  # the robot reports problems in errcode, not in the HTTP status
    return r.json()


def test_fake_accepts_markdown_and_text_and_records_them(wecom):
    assert post(wecom, {"msgtype": "markdown", "markdown": {"content": "## 你好"}}) == {"errcode": 0, "errmsg": "ok"}
    assert post(wecom, {"msgtype": "text", "text": {"content": "hi", "mentioned_list": ["@all"]}})["errcode"] == 0
    msgs = wecom.messages()
    assert [(m["msgtype"], m["content"], m["key"]) for m in msgs] == [("markdown", "## 你好", KEY), ("text", "hi", KEY)]
    assert msgs[1]["mentioned_list"] == ["@all"] and [m["seq"] for m in msgs] == [1, 2]
    assert httpx.get(f"{wecom.url}/messages", params={"key": "other"}).json()["count"] == 0

    assert httpx.delete(f"{wecom.url}/messages").json() == {"cleared": 2}
    assert wecom.messages() == []


@pytest.mark.parametrize(
    "body,key,errcode",
    [
        ({"msgtype": "image", "image": {"base64": "x", "md5": "y"}}, KEY, 40008),
        ({"markdown": {"content": "no msgtype"}}, KEY, 40008),
        ({"msgtype": "markdown", "markdown": {"content": "   "}}, KEY, 44004),
        ({"msgtype": "markdown", "text": {"content": "wrong part"}}, KEY, 44004),
        ({"msgtype": "markdown", "markdown": {"content": "字" * 1366}}, KEY, 40058),  # 4098 bytes
        ({"msgtype": "text", "text": {"content": "a" * 2049}}, KEY, 40058),
        (["not", "an", "object"], KEY, 40035),
        ({"msgtype": "markdown", "markdown": {"content": "ok"}}, None, 93000),
        ({"msgtype": "markdown", "markdown": {"content": "ok"}}, "", 93000),
    ],
)
def test_fake_rejects_like_the_robot(wecom, body, key, errcode):
    reply = post(wecom, body, key)
    assert reply["errcode"] == errcode and reply["errmsg"]
    assert wecom.messages() == []


def test_fake_markdown_limit_is_bytes_not_characters(wecom):
    exactly = "字" * 1365 + "a"  # 4096 bytes
    assert post(wecom, {"msgtype": "markdown", "markdown": {"content": exactly}})["errcode"] == 0


def test_fake_failure_injection(wecom):
    wecom.fail_next(2, status=503)
    body = {"msgtype": "markdown", "markdown": {"content": "x"}}
    url = f"{wecom.url}/cgi-bin/webhook/send?key={KEY}"
    assert [httpx.post(url, json=body).status_code for _ in range(3)] == [503, 503, 200]
    wecom.fail_next(1, status=200, errcode=45009)
    assert httpx.post(url, json=body).json()["errcode"] == 45009
    assert wecom.state() == {"attempts": 4, "rejected": 0, "injected_failures": 3, "messages": 1, "pending_failures": 0}


def test_serve_in_thread_free_port_and_stop():
    srv = serve_in_thread(create_app())
    assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0 and srv.running
    assert httpx.get(f"{srv.url}/messages").json() == {"count": 0, "items": []}
    srv.stop()
    srv.stop()  # idempotent
    assert not srv.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.url}/messages", timeout=2)


def test_serve_in_thread_port_in_use_fails_clearly(server):
    with pytest.raises(OSError):
        serve_in_thread(create_app(), port=server.port)


# ---------------------------------------------------------------- rendering


def test_render_todo_has_everything_a_reviewer_needs():
    md = render_review_todo("order-tmall-T88", "routing", "无匹配分单规则", ["NO_RULE"], CONSOLE, escalated=False)
    assert "order-tmall-T88" in md and "无匹配分单规则" in md and "`NO_RULE`" in md
    assert "人工分单" in md and "待审核" in md
    assert f"({CONSOLE}/?order_id=order-tmall-T88)" in md
    assert "升级" not in md and "第二次" not in md


def test_render_escalated_says_so():
    md = render_review_todo("order-tmall-T88", "address", "地址无法解析到区县", [], CONSOLE + "/", escalated=True)
    first = md.splitlines()[0]
    assert "升级" in first and "第二次提醒" in first
    assert f"({CONSOLE}/?order_id=order-tmall-T88)" in md  # trailing slash of the base URL not doubled
    assert "风险特征:无" in md and "地址审核" in md


def test_render_masks_phones_and_keeps_to_one_line_per_field():
    md = render_review_todo("o-1", "risk", "电话 13812345678\n无效", ["phone 0571-88886666"], CONSOLE, False)
    assert "13812345678" not in md and "138****5678" in md
    assert "88886666" not in md
    assert "> 原因:" in md and "无效" in md.split("> 原因:")[1].splitlines()[0]


def test_render_never_exceeds_the_robot_limit():
    md = render_review_todo("o-1", "risk", "很长的原因" * 2000, [f"F{i}" for i in range(100)], CONSOLE, True)
    assert len(md.encode()) <= MARKDOWN_MAX_BYTES
    assert md.rstrip().endswith(f"({console_link(CONSOLE, 'o-1')})")  # the link survives truncation
    assert "等 100 项" in md


def test_console_link_quotes_the_order_id():
    assert console_link("http://c/", "order-erp-A B/1") == "http://c/?order_id=order-erp-A%20B%2F1"


def test_mask_phones():
    text = "13812345678 / +8613812345678 / 138-1234-5678 / +8657188888888 / 0571-88886666 / ¥13812.50 / 20241212093000"
    masked = mask_phones(text)
    for raw in ("12345678", "1234-5678", "88888888", "88886666"):
        assert raw not in masked
    assert "138****5678" in masked and "¥13812.50" in masked and "20241212093000" in masked
    assert mask_phones(masked) == masked


# ---------------------------------------------------------------- the client


async def test_client_posts_exactly_the_robot_body(wecom):
    await WeComClient(wecom.webhook, timeout=5).send_markdown("## 测试\n> 一行")
    (msg,) = wecom.messages()
    assert (msg["msgtype"], msg["content"], msg["key"]) == ("markdown", "## 测试\n> 一行", KEY)


async def test_client_raises_on_errcode(wecom):
    bad = f"{wecom.url}/cgi-bin/webhook/send?key="
    with pytest.raises(WeComError) as info:
        await WeComClient(bad).send_markdown("x")
    assert info.value.errcode == 93000 and not info.value.retryable
    assert "93000" in str(info.value)

    with pytest.raises(WeComError) as info:
        await WeComClient(wecom.webhook).send({"msgtype": "voice", "voice": {"media_id": "1"}})
    assert info.value.errcode == 40008 and "invalid message type" in str(info.value)


async def test_client_raises_on_5xx_and_rate_limit_as_retryable(wecom):
    wecom.fail_next(1, status=502)
    with pytest.raises(WeComError) as info:
        await WeComClient(wecom.webhook).send_markdown("x")
    assert info.value.status_code == 502 and info.value.retryable and info.value.errcode is None

    wecom.fail_next(1, status=200, errcode=45009)
    with pytest.raises(WeComError) as info:
        await WeComClient(wecom.webhook).send_markdown("x")
    assert info.value.errcode == 45009 and info.value.retryable
    assert wecom.messages() == []


async def test_client_checks_size_before_sending(wecom):
    with pytest.raises(WeComError) as info:
        await WeComClient(wecom.webhook).send_markdown("字" * 1366)
    assert info.value.errcode == 40058 and not info.value.retryable
    assert wecom.state()["attempts"] == 0


async def test_client_unreachable_is_retryable_and_hides_the_key():
    srv = serve_in_thread(create_app())
    url = f"{srv.url}/cgi-bin/webhook/send?key={KEY}"
    srv.stop()
    with pytest.raises(WeComError) as info:
        await WeComClient(url, timeout=2).send_markdown("x")
    assert info.value.retryable and info.value.status_code is None
    assert KEY not in str(info.value) and "key=%2A%2A%2A" in str(info.value)
    assert KEY not in repr(WeComClient(url))


def test_redact_url():
    assert redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc&debug=1") == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=%2A%2A%2A&debug=1"
    )


def test_client_refuses_empty_url():
    with pytest.raises(ValueError):
        WeComClient("")


# ---------------------------------------------------------------- the activity


async def test_activity_sends_the_todo(wecom):
    await ActivityEnvironment().run(NotifyActivities(wecom.webhook).notify_wecom, request())
    (msg,) = wecom.messages()
    assert msg["msgtype"] == "markdown"
    assert msg["content"] == render_review_todo(
        "order-douyin-DY20241212001", "risk", "电话 +8613812345678 不是有效的中国大陆号码",
        ["INVALID_PHONE", "BURST_SAME_ADDRESS"], CONSOLE, False,
    )
    assert "order-douyin-DY20241212001" in msg["content"] and "风控审核" in msg["content"]
    assert "+86138****5678" in msg["content"] and "13812345678" not in msg["content"]
    assert f"{CONSOLE}/?order_id=order-douyin-DY20241212001" in msg["content"]


async def test_activity_escalation(wecom):
    await ActivityEnvironment().run(NotifyActivities(wecom.webhook).notify_wecom, request(escalated=True))
    assert "升级" in wecom.messages()[0]["content"]


async def test_activity_failure_then_success_with_a_retry_loop(wecom):
    wecom.fail_next(2, status=500)
    act = NotifyActivities(wecom.webhook).notify_wecom
    errors = []
    for _ in range(5):
        try:
            await ActivityEnvironment().run(act, request())
            break
        except ApplicationError as exc:
            assert not exc.non_retryable and exc.type == "WeComError"
            errors.append(exc)
    assert len(errors) == 2 and "HTTP 500" in str(errors[0])
    assert len(wecom.messages()) == 1 and wecom.state()["attempts"] == 3


async def test_activity_permanent_errors_are_non_retryable(wecom):
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as info:
        await env.run(NotifyActivities(f"{wecom.url}/cgi-bin/webhook/send").notify_wecom, request())
    assert info.value.non_retryable and "93000" in str(info.value)

    wecom.fail_next(1, status=200, errcode=45009)  # rate limit: retry later
    with pytest.raises(ApplicationError) as info:
        await env.run(NotifyActivities(wecom.webhook).notify_wecom, request())
    assert not info.value.non_retryable


@workflow.defn(sandboxed=False)
class _NotifyOnce:
    @workflow.run
    async def run(self, req: NotifyRequest) -> None:
        await workflow.execute_activity(
            "notify_wecom",
            req,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=2,
                                     maximum_attempts=5),
        )


async def test_temporal_retry_policy_delivers_after_failures(wecom, ts_env):
    """The real division of labour: the activity raises, the caller's RetryPolicy retries."""
    tq = f"notify-{uuid.uuid4().hex[:8]}"
    wecom.fail_next(3, status=503)
    async with Worker(ts_env.client, task_queue=tq, workflows=[_NotifyOnce],
                      activities=NotifyActivities(wecom.webhook).all(), workflow_runner=UnsandboxedWorkflowRunner()):
        await ts_env.client.execute_workflow(_NotifyOnce.run, request(), id=f"notify-{tq}", task_queue=tq)
    assert len(wecom.messages()) == 1 and wecom.state()["attempts"] == 4


async def test_temporal_does_not_retry_a_wrong_key(wecom, ts_env):
    tq = f"notify-{uuid.uuid4().hex[:8]}"
    async with Worker(ts_env.client, task_queue=tq, workflows=[_NotifyOnce],
                      activities=NotifyActivities(f"{wecom.url}/cgi-bin/webhook/send?key=").all(),
                      workflow_runner=UnsandboxedWorkflowRunner()):
        with pytest.raises(WorkflowFailureError) as info:
            await ts_env.client.execute_workflow(_NotifyOnce.run, request(), id=f"notify-{tq}", task_queue=tq)
    cause = info.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.non_retryable and wecom.state()["attempts"] == 1


async def test_empty_url_logs_masked_and_returns(caplog):
    caplog.set_level(logging.INFO, logger="zhongshu.notify")
    result = await ActivityEnvironment().run(
        NotifyActivities("").notify_wecom, request(reason="客户电话 13812345678 / 0571-88886666 需核实")
    )
    assert result is None
    text = caplog.text
    assert "order-douyin-DY20241212001" in text and "not sent" in text and "客户电话" in text
    assert "13812345678" not in text and "88886666" not in text and "138****5678" in text


async def test_failure_logs_hide_phones_and_key(wecom, caplog):
    caplog.set_level(logging.INFO, logger="zhongshu.notify")
    wecom.fail_next(1, status=500)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(NotifyActivities(wecom.webhook).notify_wecom, request())
    for text in (caplog.text, str(info.value)):
        assert KEY not in text and "13812345678" not in text
    assert "HTTP 500" in caplog.text
