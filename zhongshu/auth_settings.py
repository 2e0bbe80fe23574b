"""Sign-in and secret-hygiene settings (issue 13), apart from zhongshu/settings.py so the security
knobs are read in one place.

Development mode (``ZHONGSHU_DEV_MODE=1``; ``make up`` / ``zhongshu up`` set it) is the only mode in
which the API and worker start with a development default secret: a generated ``var/dev-api-key``,
the published carrier secret, a confirmation secret derived from the API key, the published payload
codec key (zhongshu/payload_codec.py)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from zhongshu.payload_codec import CodecKeys

# the carrier secret's published default (zhongshu/settings.py), refused outside development
DEV_CARRIER_SECRET = "zhongshu-carrier-secret"


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHONGSHU_", env_file=".env", extra="ignore")

    dev_mode: bool = False
    session_hours: float = 12  # a sign-in lasts this long, then the person signs in again
    login_max_failures: int = 5  # wrong passwords in a row before the account locks …
    login_lockout_minutes: float = 15  # … for this long
    # WeCom (企业微信) OAuth sign-in: off unless set; "fake" talks to the test harness' fake WeCom
    wecom_oauth: bool = False
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_corp_secret: str = ""
    wecom_api_url: str = "https://qyapi.weixin.qq.com"
    wecom_authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    console_host: str = "127.0.0.1"  # the console binds here; 0.0.0.0 only if you mean it
    # the console's sign-in cookie (zhongshu_session): Secure when unset and the browser came over https
    # (or the TLS proxy says so in X-Forwarded-Proto); true/false forces it
    session_cookie_secure: bool | None = None

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.login_lockout_minutes)


@lru_cache
def get_auth_settings() -> AuthSettings:
    return AuthSettings()


class DefaultSecretError(RuntimeError):
    """Raised at start-up: a development default secret outside development mode."""


def default_secrets(settings) -> list[str]:
    """Which secrets are still development defaults (names of the env vars to set)."""
    found = []
    if not settings.api_key:
        found.append("ZHONGSHU_API_KEY (unset: a generated development key in var/dev-api-key)")
    elif settings.api_key.startswith("zs-dev-"):
        found.append("ZHONGSHU_API_KEY (a development key)")
    if settings.carrier_app_secret == DEV_CARRIER_SECRET:
        found.append("ZHONGSHU_CARRIER_APP_SECRET (the published default)")
    if not settings.confirm_secret:
        found.append("ZHONGSHU_CONFIRM_SECRET (unset: derived from the API key)")
    if CodecKeys.parse(settings.codec_keys).development:
        found.append("ZHONGSHU_CODEC_KEYS (unset or holding the published development key: "
                     "personal data in Temporal would be readable by anyone)")
    return found


def refuse_default_secrets(settings, service: str, auth: AuthSettings | None = None) -> None:
    """Start-up check for the API and the worker: outside development mode, no default secret."""
    auth = auth or get_auth_settings()
    if auth.dev_mode:
        return
    found = default_secrets(settings)
    if found:
        raise DefaultSecretError(
            f"{service} 拒绝启动: development default secrets outside development mode — set "
            + "; ".join(found) + " (or ZHONGSHU_DEV_MODE=1 on a development machine)")
