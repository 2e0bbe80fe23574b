"""Pure signing helpers for the channels' wire protocols (no I/O; used by our clients, our webhook
route and the fake servers, so both ends of every test sign the same way).

* **Taobao/Tmall open platform (TOP)**: parameters sorted by name, concatenated as ``k1v1k2v2…``
  (the ``sign`` parameter and empty values left out); ``md5`` signs ``secret + s + secret``,
  ``hmac`` is HMAC-MD5 and ``hmac-sha256`` HMAC-SHA256 keyed with the secret; upper-case hex.
* **Douyin shop message push**: header ``event-sign`` over ``app_key + body + app_secret``:
  MD5 hex (``sign-method: md5``, and what a push without ``sign-method`` means, as the platform's
  original scheme and its SDKs verify it) or HMAC-SHA256 of the same string keyed with the secret
  (``sign-method: hmac-sha256``, what our fake sends). The platform signs the body only; the age of a
  push is checked on the time its (signed) messages carry: ``push_age_problem``.
* **Douyin shop open API (抖店开放平台)**: ``sign`` over ``secret + "app_key{k}method{m}param_json{p}timestamp{t}v{v}"
  + secret`` — HMAC-SHA256 keyed with the secret (``sign_method=hmac-sha256``, default) or MD5; lower-case
  hex. ``param_json`` is the business parameters as compact JSON with sorted keys (also the request body).
* **Kingdee K3 Cloud-style WebAPI**: ``X-Api-Signature`` = base64(HMAC-SHA256(secret,
  ``METHOD\\npath\\n\\nx-api-nonce:{nonce}\\nx-api-timestamp:{ts}\\n``)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

TOP_SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def top_sign_string(params: Mapping[str, object]) -> str:
    return "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v is not None and v != "")


def top_sign(params: Mapping[str, object], secret: str, method: str = "md5") -> str:
    s = top_sign_string(params)
    if method == "md5":
        digest = hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest()
    elif method == "hmac":
        digest = hmac.new(secret.encode(), s.encode("utf-8"), hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(secret.encode(), s.encode("utf-8"), hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown sign_method {method!r}; one of {TOP_SIGN_METHODS}")
    return digest.upper()


def top_verify(params: Mapping[str, object], secret: str) -> bool:
    given = str(params.get("sign") or "")
    method = str(params.get("sign_method") or "md5")
    try:
        expected = top_sign(params, secret, method)
    except ValueError:
        return False
    return hmac.compare_digest(given.upper(), expected)


def douyin_sign(app_key: str, app_secret: str, body: bytes, method: str = "hmac-sha256") -> str:
    data = app_key.encode() + body + app_secret.encode()
    if method == "md5":
        return hashlib.md5(data).hexdigest()
    if method == "hmac-sha256":
        return hmac.new(app_secret.encode(), data, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign-method {method!r}")


def douyin_verify(app_key: str, app_secret: str, body: bytes, sign: str | None, method: str | None) -> bool:
    if not app_secret or not sign:
        return False
    try:
        expected = douyin_sign(app_key, app_secret, body, (method or "md5").lower())
    except ValueError:
        return False
    return hmac.compare_digest(sign.lower(), expected)


def push_age_problem(sent_at: datetime | None, now: datetime, *, window_seconds: float,
                     future_seconds: float = 60) -> str | None:
    """Why a signed push is too old (or from the future) to be taken, or None when it is within the
    window. A replayed capture of a genuine push keeps its signature but not its age."""
    if window_seconds <= 0:
        return None  # the check is switched off
    if sent_at is None:
        return "推送不带时间, 无法判断新旧 (the push carries no timestamp (update_time / pay_time / create_time))"
    age = (now - sent_at).total_seconds()
    if age > window_seconds:
        return (f"推送时间已过去 {age:.0f} 秒, 超出 {window_seconds:.0f} 秒的接收窗口, 可能是重放或长时间延迟 (timestamp "
                f"{sent_at.isoformat()} is {age:.0f} s old, outside the {window_seconds:.0f} s window: a replayed or long-delayed push)")
    if -age > future_seconds:
        return (f"推送时间比现在晚 {-age:.0f} 秒, 请检查抖店与本系统的时钟 (timestamp {sent_at.isoformat()} is {-age:.0f} s in "
                f"the future: clock skew over {future_seconds:.0f} s)")
    return None


def douyin_param_json(params: Mapping[str, object]) -> str:
    """The canonical ``param_json``: sorted keys, no spaces, UTF-8 kept (signed and sent as is)."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def douyin_api_sign(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str, v: str = "2",
                    sign_method: str = "hmac-sha256") -> str:
    text = f"{app_secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}{app_secret}"
    if sign_method == "md5":
        return hashlib.md5(text.encode("utf-8")).hexdigest()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign_method {sign_method!r}")


def douyin_api_verify(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str, v: str,
                      sign_method: str | None, sign: str | None) -> bool:
    if not app_secret or not sign:
        return False
    try:
        expected = douyin_api_sign(app_key, app_secret, method, param_json, timestamp, v, (sign_method or "hmac-sha256").lower())
    except ValueError:
        return False
    return hmac.compare_digest(sign.lower(), expected)


def kingdee_sign(app_secret: str, method: str, path: str, timestamp: str, nonce: str) -> str:
    text = f"{method.upper()}\n{quote(path, safe='')}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"
    return base64.b64encode(hmac.new(app_secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


def kingdee_verify(app_secret: str, method: str, path: str, timestamp: str, nonce: str, sign: str | None) -> bool:
    if not sign:
        return False
    return hmac.compare_digest(sign, kingdee_sign(app_secret, method, path, timestamp, nonce))
