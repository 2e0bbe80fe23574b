"""Logs: JSON lines with order id and trace id on every record, personal data masked, files rotated."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from zhongshu.logging_setup import (
    bind_order,
    build_handlers,
    mask_text,
    order_id_of,
    setup_logging,
)
from zhongshu.settings import Settings


@pytest.fixture
def logged(tmp_path):
    """A logger of the test's own with the handlers setup_logging installs; yields (log, lines())."""
    settings = Settings(var_dir=tmp_path, log_console="json", log_file_max_bytes=10_000_000)
    stream = io.StringIO()
    handlers = build_handlers("worker", settings, stream=stream)
    log = logging.getLogger(f"zhongshu.test.{tmp_path.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    for h in handlers:
        log.addHandler(h)

    def lines(where: str = "file") -> list[dict]:
        for h in handlers:
            h.flush()
        text = (tmp_path / "logs" / "worker.jsonl").read_text(encoding="utf-8") if where == "file" else stream.getvalue()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    yield log, lines
    for h in handlers:
        log.removeHandler(h)
        h.close()


@pytest.mark.parametrize("raw, masked", [
    ("客户电话 13857112345 已通知", "客户电话 138****2345 已通知"),
    ("+8613857112345", "+86138****2345"),
    ("+86 138-5711-2345", "+86138****2345"),
    ("138 5711 2345", "138****2345"),
    ("0571-88886666", "0571****6666"),
    ("订单号 202612121385711234567 不是电话", "订单号 202612121385711234567 不是电话"),
    ("收货地址:浙江省杭州市萧山区北干街道金城路188号3幢2单元501室,请尽快", "收货地址:浙江省杭州市萧山区***,请尽快"),
    ("地址 杭州萧山区北干街道金城路188号", "地址 杭州萧山区***"),
    ("上海市浦东新区张江镇碧波路690号", "上海市浦东新区***"),
    ("POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123&debug=1", "POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***&debug=1"),
    ("波次B26-07,目标库位A-03-12,数量3件", "波次B26-07,目标库位A-03-12,数量3件"),
])
def test_mask_text(raw, masked):
    assert mask_text(raw) == masked


def test_every_record_is_json_with_order_and_trace_ids_and_masked(logged):
    log, lines = logged
    tracer = TracerProvider().get_tracer("test")  # a provider of the test's own: the current span is what counts
    with tracer.start_as_current_span("RunActivity:notify_wecom") as span, bind_order("order-tmall-T100"):
        log.info("通知客户 %s 地址 %s", "13857112345", "浙江省杭州市西湖区文三路90号", extra={"recipient": {"phone": "+8613857112345"}})
    log.warning("no order here")
    first, second = lines()
    assert first["message"] == "通知客户 138****2345 地址 浙江省杭州市西湖区***"
    assert first["order_id"] == "order-tmall-T100"
    assert first["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert first["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert first["recipient"] == {"phone": "+86138****2345"}
    assert first["level"] == "INFO" and first["service"] == "worker" and first["logger"] == log.name and first["time"]
    assert second["order_id"] is None and second["trace_id"] is None
    assert lines("console")[0]["message"] == first["message"], "stderr gets the same masked JSON"


def test_order_id_from_temporal_context_or_the_message(logged):
    log, lines = logged
    log.info("activity done", extra={"temporal_activity": {"workflow_id": "order-douyin-99~AS1", "activity_type": "x"}})
    log.info("workflow note", extra={"temporal_workflow": {"workflow_id": "wave-HZ-DIRECT"}})
    log.info("projected %s at seq %d", "order-miniprogram-T7", 3)
    a, b, c = lines()
    assert a["order_id"] == "order-douyin-99" and b["order_id"] is None and c["order_id"] == "order-miniprogram-T7"
    assert order_id_of("order-tmall-1~F2") == "order-tmall-1" and order_id_of("recon-2026-12-12") is None


def test_tracebacks_are_masked(logged):
    log, lines = logged
    try:
        raise ValueError("bad phone 13857112345")
    except ValueError:
        log.exception("failed for %s", "13857112345")
    (rec,) = lines()
    assert "13857112345" not in json.dumps(rec, ensure_ascii=False)
    assert "138****2345" in rec["exc_info"] and rec["message"] == "failed for 138****2345"


def test_files_rotate_by_size(tmp_path):
    settings = Settings(var_dir=tmp_path, log_console="off", log_file_max_bytes=2_000, log_file_backups=2)
    log = logging.getLogger("zhongshu.test.rotate")
    log.propagate = False
    handlers = build_handlers("api", settings)
    for h in handlers:
        log.addHandler(h)
    try:
        for i in range(100):
            log.warning("line %d %s", i, "x" * 50)
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["api.jsonl", "api.jsonl.1", "api.jsonl.2"], files
    assert all((tmp_path / "logs" / f).stat().st_size <= 2_000 for f in files)


def test_setup_logging_replaces_the_root_handlers_once_per_call(tmp_path):
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    saved, level = list(root.handlers), root.level
    saved_access = (list(access.handlers), access.level, access.propagate)
    access.setLevel(logging.INFO)  # as `zhongshu api` runs uvicorn (log_level="info")
    try:
        logging.basicConfig(force=True)  # what `zhongshu worker` had configured before
        path = setup_logging("worker", Settings(var_dir=tmp_path, log_console="off"))
        setup_logging("worker", Settings(var_dir=tmp_path, log_console="off"))
        assert len(root.handlers) == 1 and getattr(root.handlers[0], "_zhongshu", False)
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "1.2.3.4", "GET", "/v1/orders/order-tmall-5?phone=13857112345", 200)
        root.handlers[0].flush()
        (rec,) = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert rec["logger"] == "uvicorn.access" and rec["order_id"] == "order-tmall-5" and "138****2345" in rec["message"]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)
        access.handlers[:], access.level, access.propagate = saved_access
