"""WeCom (企业微信) OAuth sign-in, pluggable by configuration (issue 13).

``IdentityProvider`` is the interface: where to send the browser, and which WeCom user a returned
``code`` belongs to. ``ZHONGSHU_WECOM_OAUTH=true`` plus corp id / secret switch the real one on
(``ZHONGSHU_WECOM_API_URL`` / ``…_AUTHORIZE_URL`` point it at fakes/wecom.py in tests). The person
must already have an account linked by ``wecom_userid`` — WeCom vouches for who, we decide the role."""

from __future__ import annotations

import time
from typing import Protocol
from urllib.parse import urlencode

import httpx

from zhongshu.auth_settings import AuthSettings


class WeComError(Exception):
    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class IdentityProvider(Protocol):
    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    async def user_for_code(self, code: str) -> str: ...


class WeComOAuth:
    """gettoken (cached until shortly before expiry) → auth/getuserinfo?code → userid."""

    def __init__(self, settings: AuthSettings):
        self.s = settings
        self._token: tuple[str, float] | None = None

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        q = urlencode({"appid": self.s.wecom_corp_id, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "agentid": self.s.wecom_agent_id, "state": state})
        return f"{self.s.wecom_authorize_url}?{q}#wechat_redirect"

    async def _get(self, path: str, **params: str) -> dict:
        try:
            async with httpx.AsyncClient(base_url=self.s.wecom_api_url, timeout=10) as c:
                r = await c.get(path, params=params)
        except httpx.HTTPError as exc:
            raise WeComError(f"cannot reach WeCom: {exc}", retryable=True) from exc
        if r.status_code >= 500:
            raise WeComError(f"WeCom answered {r.status_code}", retryable=True)
        try:
            body = r.json()
        except ValueError:
            raise WeComError(f"WeCom answered non-JSON ({r.status_code})", retryable=True) from None
        if body.get("errcode", 0) != 0:
            raise WeComError(f"errcode {body.get('errcode')}: {body.get('errmsg')}",
                             retryable=body.get("errcode") == -1)  # -1: system busy
        return body

    async def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        body = await self._get("/cgi-bin/gettoken", corpid=self.s.wecom_corp_id, corpsecret=self.s.wecom_corp_secret)
        self._token = (body["access_token"], time.monotonic() + int(body.get("expires_in", 7200)) - 300)
        return self._token[0]

    async def user_for_code(self, code: str) -> str:
        body = await self._get("/cgi-bin/auth/getuserinfo", access_token=await self._access_token(), code=code)
        userid = body.get("userid") or body.get("UserId")
        if not userid:
            raise WeComError("not a member of this corp (no userid for this code)")
        return str(userid)


_providers: dict[tuple, WeComOAuth] = {}


def wecom_provider(settings: AuthSettings) -> IdentityProvider | None:
    """The configured provider, or None when WeCom sign-in is off."""
    if not (settings.wecom_oauth and settings.wecom_corp_id):
        return None
    key = (settings.wecom_api_url, settings.wecom_corp_id, settings.wecom_corp_secret, settings.wecom_agent_id)
    return _providers.setdefault(key, WeComOAuth(settings))
