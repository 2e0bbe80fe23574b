"""Logging for every Zhongshu process, configured once: JSON lines with the order id and the trace id,
rotated files under the var dir, and personal data masked before anything is written.

``setup_logging(service, settings)`` — called by the worker, the API and the supervisor — gives the
root logger

* a rotating JSON file ``var/logs/<service>.jsonl`` (``ZHONGSHU_LOG_FILE_MAX_BYTES`` × ``…_BACKUPS``),
* stderr as ``text`` (default; the supervisor's per-child log and `ready_log` read it) or ``json``
  (containers: ``ZHONGSHU_LOG_CONSOLE=json``) or ``off``,

and on both: :class:`ContextFilter` (``order_id``, ``trace_id``, ``span_id``, ``service`` on every
record, None when unknown) and :class:`MaskingFilter` (mainland mobiles and landlines, street-level
addresses and secrets in URLs, in the message, its args, extras and tracebacks).

The order id comes from, in turn: ``extra={"order_id": …}``, :func:`bind_order`, the API request's
path (set by zhongshu.telemetry), the Temporal workflow/activity the record is logged from (order,
fulfilment and aftersales workflow ids start with the order id), or an order id in the message.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from opentelemetry import trace

from domain.cleansing import mask_phone
from zhongshu.settings import Settings, get_settings

_order_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("zhongshu_order_id", default=None)

# ------------------------------------------------------------------ masking

# mainland mobiles (+86 / 86 / 0086 optional; spaces or dashes between groups), +86 landlines,
# dashed landlines (0571-88888888); never inside a longer run of digits
_PHONE = re.compile(
    r"(?<![\d*])(?:"
    r"(?:(?:\+|00)?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"
    r"|(?:\+|00)86[- ]?0?[1-9]\d{1,2}[- ]?\d{7,8}"
    r"|0\d{2,3}-\d{7,8}"
    r")(?!\d)"
)
# a street-level address: [area …] street/road/village/estate … number 号/栋/室 …; the area up to the
# district/county stays readable (routing needs it), the rest is masked
_AREA = r"(?:[\u4e00-\u9fff]{1,12}?(?:省|自治区|特别行政区|市|自治州|地区|盟|区|县|旗))"
_PLACE = r"(?:路|街|大道|道|巷|弄|胡同|村|组|小区|花园|公寓|大厦|广场|园区|园|苑|城|里|镇|乡|屯)"
_ADDRESS = re.compile(
    rf"(?P<area>{_AREA}{{0,4}})"
    rf"(?P<detail>[\u4e00-\u9fffA-Za-z0-9]{{0,24}}?{_PLACE}[\u4e00-\u9fffA-Za-z0-9\-#()()]{{0,24}}?"
    r"\d+\s*(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|户)(?:[\u4e00-\u9fffA-Za-z0-9\-#]{0,24}?\d+\s*(?:单元|室|楼|层|户|号))*)"
)
_SECRET_PARAM = re.compile(r"(?i)([?&](?:key|access_token|token|secret|app_secret|sign|signature|password)=)[^&\s\"']+")


def _mask_phone(m: re.Match) -> str:
    raw = re.sub(r"[- ]", "", m.group(0))
    return mask_phone(raw)


def mask_secrets(text: str) -> str:
    """key=…, token=…, sign=… query parameters → ***."""
    return _SECRET_PARAM.sub(r"\1***", text)


def mask_text(text: str) -> str:
    """Phones → 138****5678, addresses → 浙江省杭州市西湖区***, URL secrets → key=***."""
    if not text:
        return text
    text = mask_secrets(text)
    text = _PHONE.sub(_mask_phone, text)
    return _ADDRESS.sub(lambda m: m.group("area") + "***", text)


def mask_value(value: Any, _depth: int = 0) -> Any:
    """Strings masked; dicts, lists and tuples masked inside (bounded depth); anything else as is."""
    if isinstance(value, str):
        return mask_text(value)
    if _depth > 4:
        return value
    if isinstance(value, dict):
        return {k: mask_value(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v, _depth + 1) for v in value)
    return value


# attributes every LogRecord has: never treated as extras
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_CONTEXT = ("order_id", "trace_id", "span_id", "service")


class MaskingFilter(logging.Filter):
    """Masks personal data in the message (formatted with its args), in extras and in tracebacks.
    Put it on handlers, so records of every logger pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            record.msg = mask_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string must not lose the record
                message = f"{record.msg!r} % {record.args!r}"
            record.msg, record.args = mask_text(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and key not in _CONTEXT and isinstance(value, (str, dict, list, tuple)):
                setattr(record, key, mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


# ------------------------------------------------------------------ context: order id, trace id

_ORDER_IN_TEXT = re.compile(r"\b(order-[a-z0-9_]+-[A-Za-z0-9_.\-]+?)(?=~|$|[^A-Za-z0-9_.\-])")


def order_id_of(workflow_id: str | None) -> str | None:
    """order-tmall-123~F1 → order-tmall-123; ids of other workflows (waves, syncs) → None."""
    if not workflow_id or not workflow_id.startswith("order-"):
        return None
    return workflow_id.split("~", 1)[0]


@contextlib.contextmanager
def bind_order(order_id: str | None) -> Iterator[None]:
    """Every record logged inside carries this order id."""
    token = _order_id.set(order_id)
    try:
        yield
    finally:
        _order_id.reset(token)


def set_order(order_id: str | None) -> contextvars.Token:
    return _order_id.set(order_id)


def reset_order(token: contextvars.Token) -> None:
    _order_id.reset(token)


def current_order_id(record: logging.LogRecord | None = None) -> str | None:
    found = _order_id.get()
    if found:
        return found
    if record is not None:
        for key in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, key, None)
            if isinstance(info, dict) and order_id_of(info.get("workflow_id")):
                return order_id_of(info.get("workflow_id"))
    try:
        from temporalio import activity

        if activity.in_activity():
            found = order_id_of(activity.info().workflow_id)
            if found:
                return found
    except Exception:  # noqa: BLE001 - outside Temporal, or an SDK without it
        pass
    if record is not None and isinstance(record.msg, str):
        m = _ORDER_IN_TEXT.search(record.msg if not record.args else record.getMessage())
        if m:
            return m.group(1)
    return None


def current_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span as hex, or (None, None) outside any recorded span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


class ContextFilter(logging.Filter):
    """Adds ``order_id``, ``trace_id``, ``span_id`` and ``service`` to every record."""

    def __init__(self, service: str = ""):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "order_id", None):
            try:
                record.order_id = current_order_id(record)
            except Exception:  # noqa: BLE001 - context is a nicety, the record is not
                record.order_id = None
        if not getattr(record, "trace_id", None):
            record.trace_id, record.span_id = current_ids()
        if not getattr(record, "service", None):
            record.service = self.service
        return True


# ------------------------------------------------------------------ formatters and handlers


def json_formatter():
    from pythonjsonlogger.json import JsonFormatter

    class _Json(JsonFormatter):
        # a list only with exc_info_as_array / stack_info_as_array, which stay off
        def formatException(self, ei) -> str:
            text = super().formatException(ei)
            assert isinstance(text, str)
            return mask_text(text)

        def formatStack(self, stack_info: str) -> str:
            text = super().formatStack(stack_info)
            assert isinstance(text, str)
            return mask_text(text)

    return _Json(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(order_id)s %(trace_id)s %(span_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
        json_default=str,
    )


class TextFormatter(logging.Formatter):
    """One line for people: time level logger message [order=… trace=…]."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = [f"{k}={v}" for k, v in (("order", getattr(record, "order_id", None)),
                                        ("trace", getattr(record, "trace_id", None))) if v]
        if ctx:
            head, sep, tail = line.partition("\n")
            line = f"{head} [{' '.join(ctx)}]{sep}{tail}"
        return line

    def formatException(self, ei) -> str:
        return mask_text(super().formatException(ei))


def _decorate(handler: logging.Handler, service: str) -> logging.Handler:
    handler.addFilter(ContextFilter(service))
    handler.addFilter(MaskingFilter())
    handler._zhongshu = True  # type: ignore[attr-defined]  # ours: replaced on the next setup
    return handler


def log_file(settings: Settings, service: str) -> Path:
    return Path(settings.var_dir) / "logs" / f"{service}.jsonl"


def build_handlers(service: str, settings: Settings, *, stream=None) -> list[logging.Handler]:
    """The handlers setup_logging installs (tests attach them to a logger of their own)."""
    handlers: list[logging.Handler] = []
    if settings.log_file:
        path = log_file(settings, service)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = RotatingFileHandler(path, maxBytes=settings.log_file_max_bytes, backupCount=settings.log_file_backups,
                                 encoding="utf-8")
        fh.setFormatter(json_formatter())
        handlers.append(_decorate(fh, service))
    if settings.log_console not in ("off", "none", ""):
        sh = logging.StreamHandler(stream or sys.stderr)
        sh.setFormatter(json_formatter() if settings.log_console == "json" else TextFormatter())
        handlers.append(_decorate(sh, service))
    return handlers


_configured: str | None = None


def setup_logging(service: str, settings: Settings | None = None) -> Path | None:
    """Configure the root logger for this process (again replaces what an earlier call or
    ``logging.basicConfig`` installed). Returns the JSON log file, if any."""
    global _configured
    s = settings or get_settings()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        if getattr(h, "_zhongshu", False):
            h.close()
    for h in build_handlers(service, s):
        root.addHandler(h)
    root.setLevel(s.log_level.upper())
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # uvicorn's loggers keep handlers of their own: route them through ours (masked, JSON, rotated)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.captureWarnings(True)
    _configured = service
    return log_file(s, service) if s.log_file else None
