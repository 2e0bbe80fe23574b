"""The development harness's own knobs, apart from the product's settings (``zhongshu.settings``):
where the fake partner servers listen. Read from ``ZHONGSHU_*`` like the product's, so
``ZHONGSHU_FAKES_BASE_PORT=18600 make up`` still moves them."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class HarnessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHONGSHU_", env_file=".env", extra="ignore")

    fakes_base_port: int = 8600  # fake WeCom robot at base+0, the other fakes on the ports after it


def fakes_base_port() -> int:
    return HarnessSettings().fakes_base_port
