"""WeCom (企业微信) notifications: the group-robot webhook client, the review to-do message, and the
``notify_wecom`` activity.

Front-line staff keep working in WeCom: when an order is held for a person, the review group gets a
markdown to-do with the reason, the risk features and a link into the console; when nobody decides
in time, a second, escalated notice follows.

Retrying is the caller's job (the workflow's RetryPolicy with backoff): the activity raises on any
failure. Failures that no retry can fix (wrong robot key, message the robot rejects as malformed)
raise a non-retryable ``ApplicationError`` so the workflow is not stuck retrying forever.

The webhook URL carries the robot's secret key, so it is never logged or put in an error message
unredacted; phone numbers are masked in everything logged (and in the group message itself —
reviewers see the full record in the console).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from domain import labels, team
from domain.cleansing import mask_phone
from domain.contracts.notify import NOTIFY_WECOM, NotifyRequest

log = logging.getLogger("zhongshu.notify")

MARKDOWN_MAX_BYTES = 4096  # the robot rejects longer markdown.content (errcode 40058)

# errcodes worth retrying: rate limit (20 msgs/min per robot) and the robot's "system busy"
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45033})


# +86 mobiles with or without country code, E.164 numbers, and dashed landlines (0571-88888888).
_PHONE_RE = re.compile(
    r"(?<![\d*])(?:"
    r"(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"
    r"|\+\d{10,14}"
    r"|0\d{2,3}-\d{7,8}"
    r")(?!\d)"
)


def mask_phones(text: str) -> str:
    """Mask every phone number in free text: 138-1234-5678 → 138****5678, +8657188888888 → +86571****8888."""
    return _PHONE_RE.sub(lambda m: mask_phone(re.sub(r"[- ]", "", m.group(0))), text)


def redact_url(url: str) -> str:
    """The webhook URL with its secret ``key`` replaced, for logs and errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    query = urlencode([(k, "***" if k.lower() == "key" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class WeComError(RuntimeError):
    """The robot did not accept a message.

    ``errcode`` is the robot's code (None for an HTTP-level failure), ``status_code`` the HTTP status
    (None when no response arrived), ``retryable`` whether trying again later can help.
    """

    def __init__(self, message: str, *, errcode: int | None = None, errmsg: str = "",
                 status_code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.errcode = errcode
        self.errmsg = errmsg
        self.status_code = status_code
        self.retryable = retryable


class WeComClient:
    """Async client for one group robot (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``).

    Pass ``client`` to reuse an ``httpx.AsyncClient`` (its lifetime is then the caller's); otherwise
    each send opens and closes its own.
    """

    def __init__(self, webhook_url: str, timeout: float = 10.0, *, client: httpx.AsyncClient | None = None):
        if not webhook_url:
            raise ValueError("webhook_url is empty")
        self.webhook_url = webhook_url
        self.timeout = timeout
        self._client = client

    def __repr__(self) -> str:
        return f"WeComClient({redact_url(self.webhook_url)!r})"

    async def send_markdown(self, content: str) -> None:
        size = len(content.encode("utf-8"))
        if not content.strip():
            raise WeComError("WeCom markdown content is empty", errcode=44004, retryable=False)
        if size > MARKDOWN_MAX_BYTES:
            raise WeComError(
                f"WeCom markdown content is {size} bytes, the robot accepts at most {MARKDOWN_MAX_BYTES}",
                errcode=40058, retryable=False,
            )
        await self.send({"msgtype": "markdown", "markdown": {"content": content}})

    async def send(self, payload: dict) -> None:
        """POST one message body as the robot API expects it; raise WeComError unless errcode == 0."""
        where = redact_url(self.webhook_url)
        try:
            if self._client is not None:
                resp = await self._client.post(self.webhook_url, json=payload, timeout=self.timeout)
            else:
                async with partner_http.async_client(timeout=self.timeout) as client:
                    resp = await client.post(self.webhook_url, json=payload)
        except httpx.HTTPError as exc:  # connect/read timeouts, refused connections, …
            raise WeComError(f"WeCom robot {where} unreachable: {type(exc).__name__}: {exc}") from None

        status = resp.status_code
        if status >= 500 or status == 429:
            raise WeComError(f"WeCom robot {where} answered HTTP {status}", status_code=status)
        if status >= 400:
            raise WeComError(f"WeCom robot {where} answered HTTP {status}", status_code=status, retryable=False)
        try:
            data = resp.json()
        except ValueError:
            raise WeComError(
                f"WeCom robot {where} answered HTTP {status} with a non-JSON body", status_code=status
            ) from None
        errcode = data.get("errcode") if isinstance(data, dict) else None
        errmsg = str(data.get("errmsg", "")) if isinstance(data, dict) else ""
        if errcode != 0:
            raise WeComError(
                f"WeCom robot {where} rejected the message: errcode={errcode} errmsg={errmsg!r}",
                errcode=errcode if isinstance(errcode, int) else None,
                errmsg=errmsg,
                status_code=status,
                retryable=errcode in RETRYABLE_ERRCODES,
            )


# ---------------------------------------------------------------- the review to-do message


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


def _truncate_bytes(text: str, max_bytes: int) -> str:
    """At most max_bytes of UTF-8, cut on a character boundary, with an ellipsis when cut."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    ell = "…"
    budget = max(0, max_bytes - len(ell.encode("utf-8")))
    return raw[:budget].decode("utf-8", errors="ignore") + ell


def console_link(console_url: str, order_id: str) -> str:
    return f"{console_url.rstrip('/')}/?order_id={quote(order_id, safe='')}"


def render_review_todo(
    order_id: str,
    kind: str,
    reason: str,
    features: list[str],
    console_url: str,
    escalated: bool,
) -> str:
    """The WeCom markdown to-do for a review task. Pure; always within the robot's 4096-byte limit.

    Phone numbers in the reason and features are masked (the group is wide; the console is not).
    """
    kind_value = getattr(kind, "value", kind)
    kind_title = labels.review_kind(kind_value)  # every kind in Chinese, from the one label table
    link = console_link(console_url, order_id)
    feats = [_oneline(mask_phones(labels.risk_feature(f))) for f in features if str(f).strip()]
    shown = feats[:20]
    feature_text = "、".join(f"`{f[:64]}`" for f in shown) if shown else "无"
    if len(feats) > len(shown):
        feature_text += f" 等 {len(feats)} 项"

    if escalated:
        head = [
            "## <font color=\"warning\">⏫ 【升级】订单审核超时 · 第二次提醒</font>",
            "**此审核在规定时间内无人处理,已升级,请主管尽快跟进。**",
        ]
        action = "立即处理"
    else:
        head = ["## 📋 订单待审核"]
        action = "去审核台处理"

    def build(reason_text: str) -> str:
        lines = [
            *head,
            f"> 订单号:<font color=\"info\">{order_id}</font>",
            f"> 审核类型:{kind_title}",
            f"> 原因:<font color=\"warning\">{reason_text}</font>",
            f"> 风险特征:{feature_text}",
            "",
            f"[{action}]({link})",
        ]
        return "\n".join(lines)

    reason_text = _oneline(mask_phones(reason)) or "(未说明)"
    content = build(reason_text)
    overflow = len(content.encode("utf-8")) - MARKDOWN_MAX_BYTES
    if overflow > 0:
        keep = max(0, len(reason_text.encode("utf-8")) - overflow)
        content = build(_truncate_bytes(reason_text, keep))
    return _truncate_bytes(content, MARKDOWN_MAX_BYTES)  # only a pathological order id gets here


def render_team_notice(order_id: str, reason: str, console_url: str, reminder: bool) -> str:
    """The small team's notice: a new order registered on the form, or (``reminder``) one untouched
    for a day, red now (domain/team.py). Phones masked; within the robot's byte limit."""
    n = labels.TEAM_NOTICE
    head = f"## <font color=\"warning\">{n['untouched']}</font>" if reminder else f"## {n['new']}"
    content = "\n".join([head, f"> 订单号:<font color=\"info\">{order_id}</font>",
                         f"> {_oneline(mask_phones(reason)) or '(未说明)'}", "",
                         f"[{n['action']}]({console_link(console_url, order_id)})"])
    return _truncate_bytes(content, MARKDOWN_MAX_BYTES)


# ---------------------------------------------------------------- the activity


class NotifyActivities:
    """``notify_wecom``: send the review to-do to the WeCom group (or log it when no robot is set)."""

    def __init__(self, webhook_url: str, timeout: float = 10.0):
        self.webhook_url = webhook_url
        self.timeout = timeout

    @activity.defn(name=NOTIFY_WECOM.name)
    async def notify_wecom(self, req: NotifyRequest) -> None:
        if req.kind == team.NOTICE_KIND:
            content = render_team_notice(req.order_id, req.reason, req.console_url, req.escalated)
        else:
            content = render_review_todo(req.order_id, req.kind, req.reason, req.features, req.console_url, req.escalated)
        label = "escalation" if req.escalated else "to-do"
        if not self.webhook_url:
            log.info("no WeCom webhook configured; %s for %s not sent:\n%s", label, req.order_id, mask_phones(content))
            return
        try:
            await WeComClient(self.webhook_url, self.timeout).send_markdown(content)
        except WeComError as exc:
            log.warning("WeCom %s for %s failed: %s", label, req.order_id, mask_phones(str(exc)))
            raise ApplicationError(
                mask_phones(str(exc)),
                {"errcode": exc.errcode, "status_code": exc.status_code},
                type="WeComError",
                non_retryable=not exc.retryable,
            ) from None
        log.info("WeCom %s sent for %s", label, req.order_id)

    def all(self) -> list:
        return [self.notify_wecom]
