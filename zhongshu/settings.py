"""The product's tunables, read from ``ZHONGSHU_*`` environment variables (or ``.env``).

One class per concern (places, Temporal, secrets, channels, order policy, warehouse, fulfilment,
finance, telemetry), combined in ``Settings`` so a caller reads ``settings.wave_size`` wherever it
is declared. Sign-in knobs are in ``zhongshu.auth_settings``, channel health in
``zhongshu.channel_settings``; the development harness's own knobs (the fake partners' ports) live in
``devtools`` and are not product settings.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.order import OrderTimeWindow
from domain.risk import RiskThresholds

ROOT = Path(__file__).resolve().parent.parent

class _FromEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHONGSHU_", env_file=".env", extra="ignore", env_nested_delimiter="__")


class PlacesSettings(_FromEnv):
    """Where things live and where people and processes reach each other."""

    # `database_url=` is accepted by name next to its aliases (settings match names case-insensitively, so
    # it always was): saying so lets the type checker see the keyword
    model_config = SettingsConfigDict(validate_by_name=True)

    # where things live
    var_dir: Path = ROOT / "var"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "ZHONGSHU_DATABASE_URL"),
        description="SQLAlchemy URL; empty means the SQLite file var/zhongshu.db",
    )
    # processes
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    console_port: int = 8501
    public_base_url: str = ""  # how people reach the API / console links; default derived from ports
    console_base_url: str = ""
    temporal_ui_port: int = 8233


class TemporalSettings(_FromEnv):
    """The Temporal connection, the task queues (one per stage) and the worker's own limits."""

    # temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "zhongshu-orders"  # the orders stage's queue (and every stage's that has none of its own)
    # task queues per stage (README: Scale-out): empty = the orders queue, so one worker serves everything
    task_queue_warehouse: str = ""
    task_queue_logistics: str = ""
    task_queue_finance: str = ""
    # workflow tasks one worker process runs at once (local activities included): more than its event loop can
    # finish inside the 10 s workflow task timeout makes a burst time out and retry instead of queueing
    worker_workflow_tasks: int = Field(default=10, ge=1)
    worker_stages: str = ""  # what `zhongshu worker` serves without --stages (e.g. orders,finance); empty = all
    temporal_rpc_seconds: float = 5.0  # a start / signal Temporal has not answered by then → 503 + Retry-After
    worker_seen_seconds: float = 90.0  # a task queue whose last poll is older counts as "no worker" (/readyz)


class SecretSettings(_FromEnv):
    """Keys and secrets (refused at their development defaults outside development mode: auth_settings)."""

    # security: the service key plus optional role keys ("key:role,key:role")
    api_key: str = ""
    extra_api_keys: str = ""
    # personal data in Temporal (issue 13, zhongshu/payload_codec.py): "k2:<base64>,k1:<base64>" — the
    # first key encrypts, all decrypt; empty: the published development key (development mode only)
    codec_keys: str = ""
    # browser origins of the Temporal UI allowed to call the codec server (/v1/codec/…); empty: the
    # embedded UI (http://127.0.0.1:<temporal_ui_port>, http://localhost:<temporal_ui_port>)
    codec_cors_origins: str = ""
    confirm_secret: str = ""  # signs the customer's confirmation links; empty: derived from the API key


class ChannelSettings(_FromEnv):
    """Channels (issue 4): real endpoints and credentials, or `zhongshu channels add`."""

    # channels (issue 4): real endpoints and credentials plug in here or via `zhongshu channels add`
    douyin_app_key: str = "zhongshu-douyin"  # the app key Douyin signs pushes with
    douyin_app_secret: str = ""  # empty: the Douyin webhook answers 401 to every push
    douyin_api_url: str = ""  # Douyin shop open API (抖店开放平台); empty: ids-only pushes become replayable rejections
    tmall_url: str = ""  # TOP gateway, e.g. https://eco.taobao.com/router/rest (fake: …/router/rest)
    tmall_app_key: str = ""
    tmall_app_secret: str = ""
    erp_url: str = ""  # Kingdee K3 Cloud-style WebAPI base URL; empty: orders are not pushed to an ERP
    erp_app_id: str = ""
    erp_app_secret: str = ""
    oauth_token_ttl_seconds: int = 7200  # bearer tokens we issue to the mini-program backend
    channel_poll_seconds: int = 30  # ChannelSyncWorkflow poll interval


class OrderPolicySettings(_FromEnv):
    """What an order may claim at the door and how its reviews and holds run (fixed in each order's policy)."""

    # order policy
    dedupe_window_seconds: int = 300
    review_escalation_seconds: int = 2 * 3600
    review_red_seconds: int = 24 * 3600
    team_untouched_seconds: int = 24 * 3600  # a small team's order nobody acted on turns red, WeCom again (domain/team.py)
    # risk thresholds, e.g. ZHONGSHU_RISK__BURST_COUNT=5, ZHONGSHU_RISK__NEW_CUSTOMER_AMOUNT=5000
    risk: RiskThresholds = RiskThresholds()
    # the door (issue 11): what an order may claim, how big a request may be, how long the API waits
    # e.g. ZHONGSHU_ORDER_WINDOW__MAX_AGE_DAYS=3650 to import older ERP history
    order_window: OrderTimeWindow = OrderTimeWindow()
    max_body_bytes: int = 1_000_000  # larger JSON bodies at intake / webhooks → 413 (a summary is recorded)
    decision_wait_seconds: float = 4.0  # a review decision not accepted by a worker by then → 202 pending
    retry_after_seconds: int = 5  # Retry-After on 503
    # notifications
    wecom_webhook_url: str = ""


class WarehouseSettings(_FromEnv):
    """Warehouse execution (issue 5): waves close at N orders or at the cut-off, whichever first."""

    # warehouse execution (issue 5): waves close at N orders or at the cut-off, whichever first
    wave_size: int = 30
    wave_cutoffs: str = "11:00,16:00"  # Beijing clock times, comma-separated
    wave_auto_pack: bool = False  # packing confirms itself once a wave is picked (demo/bench)
    erp_images_url: str = ""  # ERP image library base URL (GET /v1/items/{sku}/image); empty: no images
    serial_baudrate: int = 9600  # scanners in serial pass-through mode
    device_voice: str = "auto"  # auto | espeak | pyttsx3 | log


class FulfilmentSettings(_FromEnv):
    """After release (issue 6): re-confirmation, e-waybills and tracking, aftersales, partners."""

    # after release (issue 6): off → orders complete at release, as before warehouse and logistics
    fulfilment: bool = True
    fulfilment_warehouse: bool = True  # join waves and wait for pick/pack
    confirm_address: bool = True  # customer re-confirms the delivery point before dispatch
    confirm_window_hours: float = 12  # then a reminder; confirm_grace_hours later a review task
    confirm_grace_hours: float = 2
    confirm_radius_km: float = 15.0  # offline geocoding to the district centroid; see README
    confirm_skip_channels: str = ""  # comma-separated channels that never re-confirm (e.g. erp)
    # the confirmation page's map: amap (高德) | tianditu (天地图) with its key; empty: the district's outline, offline
    map_provider: Literal["", "amap", "tianditu"] = ""
    map_key: str = ""
    map_security_code: str = ""  # 高德 JS API 2.0's security code (安全密钥), when the key has one
    ship: bool = True  # e-waybills and tracking
    carrier_url: str = ""  # carrier open-platform gateway base URL (fake: …/carriers); empty: no e-waybills
    carrier_app_key: str = "zhongshu"
    carrier_app_secret: str = "zhongshu-carrier-secret"  # signs our requests and their pushes
    transit_alert_hours: float = 24
    aftersales_window_days: float = 15
    miniprogram_url: str = ""  # mini-program card push (customer confirmation cards, notices)
    technician_url: str = ""  # installation technician app (work orders)
    supplier_url: str = ""  # suppliers' regional warehouse reservation API
    suppliers: str = "BOSCH-EAST,BOSCH-NORTH"  # fallback order of supplier warehouses to reserve at


class FinanceSettings(_FromEnv):
    """Finance (issue 7): settlements and ERP receipts, the daily reconciliation, the ship SLA."""

    # finance and metrics (issue 7): settlement statements + ERP receipts source, daily schedule
    settlement_url: str = ""  # base URL of the channel settlement / ERP receipts service (fake in dev)
    reconciliation_cron: str = "30 2 * * *"  # Asia/Shanghai; reconciles yesterday
    ship_sla_hours: int = 24  # due-to-ship deadline after the order time, unless the stage sets ship_by


class TelemetrySettings(_FromEnv):
    """Traces, Prometheus metrics and logs (issue 15, zhongshu/telemetry.py)."""

    # observability: none | console | file (var/logs/traces-<service>.jsonl) | otlp (telemetry block below)
    otel_exporter: str = "none"
    # telemetry (issue 15): traces, Prometheus metrics, logs — see zhongshu/telemetry.py
    otel_endpoint: str = ""  # otlp: the collector's base URL (http://otel:4318; grpc: http://otel:4317); empty: OTEL_EXPORTER_OTLP_*
    otel_protocol: str = "http/protobuf"  # otlp: http/protobuf | grpc
    otel_headers: str = ""  # otlp: "key=value,key=value" sent with every export (a collector's auth token)
    otel_sample_ratio: float = 1.0  # share of new traces kept (parent-based: a trace is kept whole or not at all)
    otel_file_max_bytes: int = 20 * 1024 * 1024  # file exporter: rotate traces-<service>.jsonl at this size …
    otel_file_backups: int = 5  # … keeping this many old files
    otel_excluded_urls: str = "/healthz$,/metrics$"  # regexes (comma-separated) of API URLs never traced
    otel_untraced_user_agents: str = "zhongshu-floor-sim"  # API callers (User-Agent contains) never traced
    metrics_enabled: bool = True  # Temporal SDK + business metrics on the endpoints below
    worker_metrics_host: str = "127.0.0.1"  # the worker's Prometheus endpoint (http://host:port/metrics) …
    worker_metrics_port: int = 9464  # … 0: none; a port in use is logged and skipped, never fatal
    metrics_allow_localhost: bool = True  # the API's GET /metrics: open to 127.0.0.1/::1, else a readonly key
    metrics_business: bool = True  # read-model gauges (orders by status, reviews, holds, …) at each scrape
    log_level: str = "INFO"
    log_console: str = "text"  # stderr: text | json | off
    log_file: bool = True  # JSON lines in var/logs/<service>.jsonl, rotated by size
    log_file_max_bytes: int = 20 * 1024 * 1024
    log_file_backups: int = 5


class Settings(PlacesSettings, TemporalSettings, SecretSettings, ChannelSettings, OrderPolicySettings, WarehouseSettings,
               FulfilmentSettings, FinanceSettings, TelemetrySettings):
    """Everything above, as one object (``get_settings()``)."""

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'zhongshu.db'}"

    @property
    def api_base_url(self) -> str:
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def console_url(self) -> str:
        return self.console_base_url or f"http://127.0.0.1:{self.console_port}"

    @property
    def codec_origins(self) -> list[str]:
        if self.codec_cors_origins.strip():
            return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]
        return [f"http://127.0.0.1:{self.temporal_ui_port}", f"http://localhost:{self.temporal_ui_port}"]

    def queue_of(self, stage: str) -> str:
        """The task queue of a stage (``orders``, ``warehouse``, ``logistics``, ``finance``)."""
        return (getattr(self, f"task_queue_{stage}", "") if stage != "orders" else "") or self.task_queue

    def effective_api_key(self) -> str:
        """The service key; generated once per var dir when unset so `make up` always prints one."""
        if self.api_key:
            return self.api_key
        path = self.var_dir / "dev-api-key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = "zs-dev-" + secrets.token_urlsafe(18)
        path.write_text(key)
        return key

    def api_keys(self) -> dict[str, str]:
        """key → role. The service key may do everything."""
        keys = {self.effective_api_key(): "service"}
        for item in filter(None, (p.strip() for p in self.extra_api_keys.split(","))):
            key, _, role = item.partition(":")
            keys[key] = role or "service"
        return keys

    @property
    def dedupe_window(self) -> timedelta:
        return timedelta(seconds=self.dedupe_window_seconds)


@lru_cache
def get_settings() -> Settings:
    return Settings()
