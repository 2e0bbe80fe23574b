"""Tunables of channel health and push checks (issue 11), read from ``ZHONGSHU_*`` like ``Settings``.

Kept beside ``zhongshu.settings.Settings`` until they are merged into it: ``channel_watch(settings)``
takes a field from ``settings`` when it has one of the same name, else from the environment, so
moving them into ``Settings`` later changes nothing for callers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.channels.health import PushRatePolicy


class ChannelWatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHONGSHU_", env_file=".env", extra="ignore")

    # signed Douyin pushes: the age of the time their messages carry (0 switches the check off)
    douyin_push_window_seconds: float = Field(default=300, ge=0)
    douyin_push_future_seconds: float = Field(default=60, ge=0)  # clock skew allowed the other way
    # a polled account is stalled after this many poll intervals without a successful poll
    channel_stall_polls: int = Field(default=3, ge=1)
    # a pushed channel is silent after factor × its median gap between pushes, at least min seconds,
    # once it has seen learn gaps
    webhook_silence_factor: float = Field(default=10, gt=1)
    webhook_silence_min_seconds: float = Field(default=1800, gt=0)
    webhook_silence_learn: int = Field(default=5, ge=1)
    webhook_beat_seconds: float = Field(default=1.0, gt=0)  # pushes of this long are one watchdog signal

    def push_rate_policy(self) -> PushRatePolicy:
        return PushRatePolicy(factor=self.webhook_silence_factor, min_silence_seconds=self.webhook_silence_min_seconds,
                              learn_gaps=self.webhook_silence_learn)


@lru_cache
def _from_env() -> ChannelWatchSettings:
    return ChannelWatchSettings()


def channel_watch(settings: Any = None, override: ChannelWatchSettings | None = None) -> ChannelWatchSettings:
    """``override`` (e.g. ``app.state.channel_watch`` set by a test), else the fields ``settings``
    has, else the environment."""
    if override is not None:
        return override
    base = _from_env()
    if settings is None:
        return base
    found = {k: getattr(settings, k) for k in ChannelWatchSettings.model_fields if hasattr(settings, k)}
    return base.model_copy(update=found) if found else base
