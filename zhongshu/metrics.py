"""Prometheus metrics: the Temporal SDK's own, the business read off the read model, API latency.

* **SDK metrics** — each service's Temporal client gets a ``Runtime`` whose metrics go to a
  ``MetricBuffer``; :class:`SdkMetrics` drains it (every second and at each scrape) into Prometheus
  samples under the SDK's names (``temporal_request_total``, ``temporal_workflow_task_execution_latency``,
  …; counters get ``_total``, durations are seconds). One bridge serves the worker's endpoint and the
  API's ``/metrics`` alike, in one registry with everything else — no second port per process.
* **Business gauges** — :class:`BusinessMetrics` is a custom collector that counts from the read model
  at scrape time: a few grouped counts on indexed columns, cached for a few seconds, each query on
  its own with a statement timeout on PostgreSQL. Tables or columns another migration adds
  (``stuck_alerts``, ``orders.stuck``, ``channel_health``) are looked up, never assumed.
* **API latency** — ``zhongshu_api_request_duration_seconds{method,route,status}`` by route template
  (``/v1/orders/{order_id}``), so ids never become label values (see zhongshu/telemetry.py).
"""

from __future__ import annotations

import bisect
import functools
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, and_, case, cast, column, func, inspect, select, table
from sqlalchemy.engine import Engine

from zhongshu.settings import Settings

log = logging.getLogger("zhongshu.metrics")

# seconds; Temporal's latencies run from milliseconds (RPCs) to minutes (long polls, schedule-to-start)
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
FRESH_REVIEW = timedelta(minutes=15)  # the field's bar: exceptions answered within 15 min


@functools.lru_cache(maxsize=4096)
def _label(name: str) -> str:
    """A Prometheus-safe name (cached: the SDK sends the same few attribute names on every update)."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name))
    return out if out and not out[0].isdigit() else f"_{out}"


# ------------------------------------------------------------------ the Temporal SDK's metrics


class _Series:
    __slots__ = ("value", "buckets", "total", "count")

    def __init__(self, n_buckets: int):
        self.value = 0.0
        self.buckets = [0] * n_buckets
        self.total = 0.0
        self.count = 0


class SdkMetrics(Collector):
    """The Temporal SDK's metrics for one Runtime, as Prometheus samples.

    Build the Temporal client with ``runtime=sdk.runtime``. Counters accumulate their deltas, gauges
    keep the last value, histograms are bucketed here (``LATENCY_BUCKETS``)."""

    def __init__(self, buffer_size: int = 200_000, drain_seconds: float = 1.0, buckets: Iterable[float] = LATENCY_BUCKETS):
        from temporalio.runtime import MetricBuffer, MetricBufferDurationFormat, Runtime, TelemetryConfig

        self.buckets = tuple(sorted(buckets))
        self.buffer = MetricBuffer(buffer_size, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self._lock = threading.Lock()
        # name → (kind, description, {label tuple → _Series})
        self._families: dict[str, tuple[int, str, dict[tuple, _Series]]] = {}
        self._stop = threading.Event()
        ref = weakref.ref(self)
        threading.Thread(target=_pump, args=(ref, self._stop, drain_seconds), name="temporal-metrics", daemon=True).start()

    def drain(self) -> None:
        from temporalio.runtime import BUFFERED_METRIC_KIND_COUNTER, BUFFERED_METRIC_KIND_HISTOGRAM

        with self._lock:
            for u in self.buffer.retrieve_updates():
                m = u.metric
                fam = self._families.get(m.name)
                if fam is None:
                    fam = self._families[m.name] = (m.kind, m.description or m.name, {})
                key = tuple(sorted((_label(k), str(v)) for k, v in u.attributes.items()))
                series = fam[2].get(key)
                if series is None:
                    series = fam[2][key] = _Series(len(self.buckets) + 1)
                if m.kind == BUFFERED_METRIC_KIND_COUNTER:
                    series.value += u.value
                elif m.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
                    v = float(u.value)
                    i = bisect.bisect_left(self.buckets, v)  # the first bucket with v <= bound
                    series.buckets[i] += 1
                    series.total += v
                    series.count += 1
                else:
                    series.value = u.value

    def collect(self) -> Iterable[Metric]:
        from temporalio.runtime import BUFFERED_METRIC_KIND_COUNTER, BUFFERED_METRIC_KIND_HISTOGRAM

        self.drain()
        with self._lock:
            for name, (kind, doc, series) in sorted(self._families.items()):
                name = _label(name)
                if kind == BUFFERED_METRIC_KIND_COUNTER:
                    metric = Metric(name, doc, "counter")
                    for labels, s in series.items():
                        metric.add_sample(f"{name}_total", dict(labels), s.value)
                elif kind == BUFFERED_METRIC_KIND_HISTOGRAM:
                    metric = Metric(name, doc, "histogram")
                    for labels, s in series.items():
                        cumulative = 0
                        for bound, n in zip((*self.buckets, float("inf")), s.buckets, strict=True):
                            cumulative += n
                            le = "+Inf" if bound == float("inf") else repr(float(bound))
                            metric.add_sample(f"{name}_bucket", {**dict(labels), "le": le}, cumulative)
                        metric.add_sample(f"{name}_count", dict(labels), s.count)
                        metric.add_sample(f"{name}_sum", dict(labels), s.total)
                else:
                    metric = Metric(name, doc, "gauge")
                    for labels, s in series.items():
                        metric.add_sample(name, dict(labels), s.value)
                yield metric

    def close(self) -> None:
        self._stop.set()


def _pump(ref, stop: threading.Event, every: float) -> None:
    """Drain regularly, so a burst between two scrapes never overflows the buffer."""
    while not stop.wait(every):
        sdk = ref()
        if sdk is None:
            return
        try:
            sdk.drain()
        except Exception:
            log.exception("could not drain the Temporal SDK metrics")
        del sdk


_sdk: dict[str, SdkMetrics] = {}
_sdk_lock = threading.Lock()


def sdk_metrics(service: str) -> SdkMetrics:
    """The process's SDK metrics bridge (and Runtime) for one service, made on first use."""
    with _sdk_lock:
        if service not in _sdk:
            _sdk[service] = SdkMetrics()
        return _sdk[service]


def sdk_runtime(settings: Settings, service: str):
    """The Runtime a service's Temporal client should use; None (the default Runtime) when metrics
    are off or the service has no endpoint (CLI commands, the stack's own client)."""
    if not settings.metrics_enabled or service not in ("worker", "api"):
        return None
    return sdk_metrics(service).runtime


# ------------------------------------------------------------------ business gauges from the read model

_orders = table("orders", column("status", String), column("channel", String),
                column("ordered_at", DateTime(timezone=True)), column("flags", JSON), column("stuck", JSON),
                column("order_id", String))
_reviews = table("review_tasks", column("kind", String), column("state", String),
                 column("created_at", DateTime(timezone=True)), column("features", JSON))
_waves = table("waves", column("warehouse", String), column("state", String))
_stuck = table("stuck_alerts", column("order_id", String), column("activity", String), column("resolved", Boolean))
_health = table("channel_health", column("account_id", String), column("channel", String), column("kind", String),
                column("state", String), column("cursor", DateTime(timezone=True)),
                column("last_success_at", DateTime(timezone=True)), column("backlog_trades", Integer))
HOLD_ROWS_LIMIT = 20_000  # open reviews read to count holds by feature (a double-12 backlog fits)


def _utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class BusinessMetrics(Collector):
    """Gauges counted from the read model at scrape time (cached ``cache_seconds``)."""

    def __init__(self, engine: Callable[[], Engine] | Engine, settings: Settings, *, cache_seconds: float = 10.0,
                 now: Callable[[], datetime] | None = None):
        self._engine = engine if callable(engine) and not isinstance(engine, Engine) else (lambda: engine)
        self.settings = settings
        self.cache_seconds = cache_seconds
        self.now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # computed at scrape time: nothing to describe up front (and no query at registration)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_seconds:
                return list(self._cached[1])
            metrics = self._compute()
            self._cached = (time.monotonic(), metrics)
            return list(metrics)

    # each part queries on its own: one missing table or slow query never hides the others
    def _compute(self) -> list[Metric]:
        from opentelemetry.instrumentation.utils import suppress_instrumentation

        t0 = time.perf_counter()
        out: list[Metric] = []
        errors = GaugeMetricFamily("zhongshu_business_metrics_errors", "parts of the business gauges that failed this scrape",
                                   labels=["part"])
        with suppress_instrumentation():  # a scrape every 15 s is not worth a trace
            try:
                engine = self._engine()
                tables = set(inspect(engine).get_table_names())
            except Exception as exc:  # noqa: BLE001 - the scrape still answers, with the error counted
                log.warning("business metrics: read model unreachable: %s", exc)
                errors.add_metric(["read_model"], 1)
                return [errors]
            now = self.now()
            for part in (self._orders, self._reviews, self._holds, self._stuck, self._channels, self._waves):
                try:
                    out.extend(self._run(engine, part, tables, now))
                except Exception as exc:  # noqa: BLE001 - as above
                    name = part.__name__.strip("_")
                    log.warning("business metrics: %s failed: %s", name, exc)
                    errors.add_metric([name], 1)
        out.append(errors)
        took = GaugeMetricFamily("zhongshu_business_metrics_seconds", "time to compute the business gauges")
        took.add_metric([], time.perf_counter() - t0)
        out.append(took)
        return out

    @staticmethod
    def _run(engine: Engine, part, tables: set[str], now: datetime) -> list[Metric]:
        with engine.connect() as conn:
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 2000")
                return part(conn, tables, now)

    def _orders(self, conn, tables, now) -> list[Metric]:
        g = GaugeMetricFamily("zhongshu_orders", "orders in the read model by status", labels=["status"])
        for status, n in conn.execute(select(_orders.c.status, func.count()).group_by(_orders.c.status)):
            g.add_metric([status or ""], n)
        last = GaugeMetricFamily("zhongshu_channel_last_order_age_seconds",
                                 "seconds since the newest order of each channel was placed", labels=["channel"])
        for channel, newest in conn.execute(select(_orders.c.channel, func.max(_orders.c.ordered_at)).group_by(_orders.c.channel)):
            if newest is not None:
                last.add_metric([channel], max(0.0, (now - _utc(newest)).total_seconds()))
        return [g, last]

    def _reviews(self, conn, tables, now) -> list[Metric]:
        s = self.settings
        escalation = timedelta(seconds=s.review_escalation_seconds)
        red = timedelta(seconds=s.review_red_seconds)
        c = _reviews.c
        age = case(
            (c.created_at >= now - FRESH_REVIEW, "fresh"),
            (c.created_at >= now - escalation, "waiting"),
            (c.created_at >= now - red, "escalated"),
            else_="red",
        ).label("age")
        g = GaugeMetricFamily("zhongshu_reviews_open",
                              "open review tasks by kind and age: fresh < 15 min ≤ waiting < escalation ≤ escalated < red",
                              labels=["kind", "age"])
        aged = select(c.kind, age).where(c.state == "open").subquery()  # grouped outside: PG compares no CASE params
        for kind, bucket, n in conn.execute(select(aged.c.kind, aged.c.age, func.count()).group_by(aged.c.kind, aged.c.age)):
            g.add_metric([kind, bucket], n)
        oldest = GaugeMetricFamily("zhongshu_review_oldest_open_age_seconds", "age of the oldest open review task",
                                   labels=["kind"])
        for kind, created in conn.execute(select(c.kind, func.min(c.created_at)).where(c.state == "open").group_by(c.kind)):
            if created is not None:
                oldest.add_metric([kind], max(0.0, (now - _utc(created)).total_seconds()))
        policy = GaugeMetricFamily("zhongshu_review_policy_seconds", "the review escalation and red thresholds in force",
                                   labels=["threshold"])
        policy.add_metric(["escalation"], escalation.total_seconds())
        policy.add_metric(["red"], red.total_seconds())
        return [g, oldest, policy]

    def _holds(self, conn, tables, now) -> list[Metric]:
        c = _reviews.c
        counts: Counter[str] = Counter()
        rows = conn.execute(select(c.features).where(c.state == "open").limit(HOLD_ROWS_LIMIT))
        for (features,) in rows:
            for f in set(map(str, features or [])):
                counts[f] += 1
        g = GaugeMetricFamily("zhongshu_holds_open", "orders held for review by risk feature (an order counts once per feature)",
                              labels=["feature"])
        for feature, n in sorted(counts.items()):
            g.add_metric([feature], n)
        return [g]

    def _stuck(self, conn, tables, now) -> list[Metric]:
        total = GaugeMetricFamily("zhongshu_stuck_orders", "orders stuck on an activity that keeps failing")
        if "stuck_alerts" in tables:
            by = GaugeMetricFamily("zhongshu_stuck_alerts", "open stuck alerts by activity", labels=["activity"])
            open_ = _stuck.c.resolved.is_(False)
            for activity, n in conn.execute(select(_stuck.c.activity, func.count()).where(open_).group_by(_stuck.c.activity)):
                by.add_metric([activity], n)
            total.add_metric([], conn.execute(select(func.count(func.distinct(_stuck.c.order_id))).where(open_)).scalar() or 0)
            return [total, by]
        columns = {col["name"] for col in inspect(conn).get_columns("orders")}
        if "stuck" in columns:
            where = and_(_orders.c.stuck.is_not(None), cast(_orders.c.stuck, String) != "null")
        else:
            where = cast(_orders.c.flags, String).like('%"stuck%')
        total.add_metric([], conn.execute(select(func.count()).select_from(_orders).where(where)).scalar() or 0)
        return [total]

    def _channels(self, conn, tables, now) -> list[Metric]:
        if "channel_health" not in tables:
            return []
        lag = GaugeMetricFamily("zhongshu_channel_sync_lag_seconds",
                                "how far behind a channel account is: now − its cursor (polled) or its last push",
                                labels=["account_id", "channel", "kind"])
        state = GaugeMetricFamily("zhongshu_channel_state", "1 for each channel account's current health state",
                                  labels=["account_id", "channel", "kind", "state"])
        backlog = GaugeMetricFamily("zhongshu_channel_backlog_trades", "trades counted in the sync window, not yet read",
                                    labels=["account_id", "channel"])
        c = _health.c
        for row in conn.execute(select(c.account_id, c.channel, c.kind, c.state, c.cursor, c.last_success_at, c.backlog_trades)):
            since = _utc(row.cursor) or _utc(row.last_success_at)
            if since is not None:
                lag.add_metric([row.account_id, row.channel, row.kind], max(0.0, (now - since).total_seconds()))
            state.add_metric([row.account_id, row.channel, row.kind, row.state], 1)
            backlog.add_metric([row.account_id, row.channel], float(row.backlog_trades or 0))
        return [lag, state, backlog]

    def _waves(self, conn, tables, now) -> list[Metric]:
        g = GaugeMetricFamily("zhongshu_waves", "waves not yet done, by warehouse and state", labels=["warehouse", "state"])
        q = select(_waves.c.warehouse, _waves.c.state, func.count()).where(_waves.c.state != "done")
        for warehouse, st, n in conn.execute(q.group_by(_waves.c.warehouse, _waves.c.state)):
            g.add_metric([warehouse, st], n)
        return [g]


# ------------------------------------------------------------------ registries per endpoint


def api_latency(registry: CollectorRegistry) -> Histogram:
    return Histogram("zhongshu_api_request_duration_seconds", "API request latency by route template and status",
                     ["method", "route", "status"], registry=registry, buckets=API_BUCKETS)


def registry_for(service: str, settings: Settings, engine: Callable[[], Engine] | Engine | None = None) -> CollectorRegistry:
    """One endpoint's registry: the service's SDK metrics and (with an engine) the business gauges."""
    registry = CollectorRegistry()
    if settings.metrics_enabled:
        registry.register(sdk_metrics(service))
        if settings.metrics_business and engine is not None:
            registry.register(BusinessMetrics(engine, settings))
    return registry


def start_worker_metrics(settings: Settings, engine: Engine):
    """The worker's Prometheus endpoint on ``worker_metrics_host:worker_metrics_port``; None when off or
    when the port is taken (logged: metrics never keep orders from flowing). ``.shutdown()`` stops it."""
    if not settings.metrics_enabled or not settings.worker_metrics_port:
        return None
    from prometheus_client import start_http_server

    registry = registry_for("worker", settings, engine)
    try:
        server, _thread = start_http_server(settings.worker_metrics_port, settings.worker_metrics_host, registry=registry)
    except OSError as exc:
        log.warning("worker metrics: cannot listen on %s:%s (%s); running without a metrics endpoint",
                    settings.worker_metrics_host, settings.worker_metrics_port, exc)
        return None
    log.info("worker metrics on http://%s:%s/metrics", settings.worker_metrics_host, server.server_address[1])
    return server
