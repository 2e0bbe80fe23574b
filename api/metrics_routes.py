"""Metrics, the order-status enquiry endpoint, and finance reconciliation runs.

* ``GET /v1/metrics/health?from=&to=&channel=&warehouse=`` — the order health index for a period
  (``from``/``to``: Beijing dates, ``to`` inclusive, or ISO datetimes, ``to`` exclusive).
* ``GET /v1/metrics/dashboard`` (+ ``.xlsx``) — stage counts and times, exception rates by risk
  feature, reviews answered within 15 min, aftersales reasons by region, health per day.
* ``GET /v1/orders/{order_id}/status`` — what customers and service staff ask ("where is my
  order?"); every call is counted as a status enquiry for the experience index.
* ``POST /v1/reconciliation/runs {"day"}`` starts (or joins) the day's ReconciliationWorkflow;
  ``GET /v1/reconciliation/runs[/{day}[/report.xlsx]]`` read the stored reports.
"""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from api.auth import READERS, require
from api.errors import query_refusal
from api.schemas import AUTH, Doc, Listing, errors
from domain.health import NO_DATA
from store import metrics, read_model
from workflows.reconciliation import start_reconciliation

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {XLSX: {}}, "description": "the workbook"}}
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # days a report can be about
Day = Annotated[date, Path(ge=EARLIEST_DAY, le=LATEST_DAY, description="YYYY-MM-DD")]
Text = Annotated[str | None, Query(max_length=64)]


def _engine(request: Request):
    return request.app.state.engine


def _sla(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.ship_sla_hours)


MOMENT = "应为日期或时间, 例如 2026-11-27 或 2026-11-27T10:00:00+08:00"


def _moment(value: str) -> None:
    """ValueError unless ``value`` reads as ``store.metrics.parse_period`` reads one end of a period."""
    if len(value) == 10:
        date.fromisoformat(value)
    else:
        datetime.fromisoformat(value.replace("Z", "+00:00"))


def _period(frm: str | None, to: str | None):
    """``from``/``to`` → the period; a bad one is a 422 naming the parameter, as FastAPI's own refusals
    are (api/errors.py): 开始应为日期或时间, 例如 …, 结束应晚于开始."""
    for field, value in (("from", frm), ("to", to)):
        try:
            if value:
                _moment(value)
        except ValueError:
            raise query_refusal(field, f"{MOMENT} (not a date or ISO datetime)") from None
    try:
        start, end = metrics.parse_period(frm, to)
    except OverflowError:
        raise query_refusal("from" if frm else "to", f"应在 {EARLIEST_DAY} 与 {LATEST_DAY} 之间 (period out of range)") from None
    except ValueError:  # 'from' must be before 'to'
        raise query_refusal("to", "应晚于开始 (to must be after from)") from None
    if start.year < EARLIEST_DAY.year:
        raise query_refusal("from", f"不能早于 {EARLIEST_DAY} (period out of range)")
    if end.year > LATEST_DAY.year:
        raise query_refusal("to", f"不能晚于 {LATEST_DAY} (period out of range)")
    return start, end


# ------------------------------------------------------------------ metrics


@router.get("/v1/metrics/health", tags=["metrics"], response_model=Doc, responses=errors(*AUTH))
def get_health(
    request: Request,
    frm: str | None = Query(None, alias="from", description="YYYY-MM-DD (Beijing) or ISO datetime", max_length=40),
    to: str | None = Query(None, description="YYYY-MM-DD (inclusive) or ISO datetime (exclusive)", max_length=40),
    channel: Text = None,
    warehouse: Text = None,
    series: bool = Query(False, description="also one point per day"),
    _role: str = Depends(require(*READERS)),
):
    start, end = _period(frm, to)
    return metrics.health(
        _engine(request), start, end, channel=channel or None, warehouse=warehouse or None, series=series,
        ship_sla=_sla(request),
    )


@router.get("/v1/metrics/dashboard", tags=["metrics"], response_model=Doc, responses=errors(*AUTH))
def get_dashboard(
    request: Request,
    frm: str | None = Query(None, alias="from", max_length=40),
    to: str | None = Query(None, max_length=40),
    channel: Text = None,
    warehouse: Text = None,
    _role: str = Depends(require(*READERS)),
):
    start, end = _period(frm, to)
    return metrics.dashboard(
        _engine(request), start, end, channel=channel or None, warehouse=warehouse or None, ship_sla=_sla(request)
    )


@router.get("/v1/metrics/dashboard.xlsx", tags=["metrics"], response_class=Response,
            responses={**XLSX_RESPONSE, **errors(*AUTH)})
def get_dashboard_xlsx(
    request: Request,
    frm: str | None = Query(None, alias="from", max_length=40),
    to: str | None = Query(None, max_length=40),
    channel: Text = None,
    warehouse: Text = None,
    _role: str = Depends(require(*READERS)),
):
    start, end = _period(frm, to)
    data = metrics.dashboard(
        _engine(request), start, end, channel=channel or None, warehouse=warehouse or None, ship_sla=_sla(request)
    )
    name = f"dashboard-{metrics.cn_day(start)}-{metrics.cn_day(end - timedelta(microseconds=1))}.xlsx"
    return Response(dashboard_workbook(data), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def dashboard_workbook(d: dict[str, Any]) -> bytes:
    """The dashboard's numbers, one sheet per block; missing values print as 'no data'."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    def v(x):
        return NO_DATA if x is None else x

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has its one sheet
    ws.title = "健康度 health"
    h = d["health"]
    ws.append([f"订单健康度 order health {d['from']} – {d['to']}", f"channel={d.get('channel') or '全部'}",
               f"warehouse={d.get('warehouse') or '全部'}"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(["总分 score (0–100)", v(h["score"]), "基线 baseline", h["baseline"]])
    ws.append(["部分数据得分 partial score", v(h["partial_score"])])
    for comp in ("timeliness", "data"):
        c = h[comp]
        ws.append([comp, v(c["score"]), "缺数据 missing: " + ", ".join(c["missing"]) if c["missing"] else ""])
        for name, t in c["terms"].items():
            ws.append([f"  {name} ×{t['weight']}", v(t["value"]), f"{t['numerator']}/{t['denominator']}"])
    e = h["experience"]
    ws.append(["experience (enquiries/orders×100, lower is better)", v(e["value"]), f"{e['numerator']}/{e['denominator']}"])
    ws.append([])
    ws.append(["日期 day", "score", "partial", "timeliness", "data", "experience", "orders", "baseline"])
    for p in h.get("series", []):
        ws.append([p["day"], v(p["score"]), v(p["partial_score"]), v(p["timeliness"]), v(p["data"]), v(p["experience"]),
                   p["orders"], p["baseline"]])
    ws.column_dimensions["A"].width = 50

    def sheet(title: str, header: list[str], rows: list[list[Any]]):
        s = wb.create_sheet(title)
        s.append(header)
        for c in s[1]:
            c.font = Font(bold=True)
        for r in rows:
            s.append([v(x) for x in r])

    sheet("阶段 stages", ["stage", "orders"], [[r["stage"], r["orders"]] for r in d["stage_counts"]])
    sheet("阶段时效 stage times", ["stage", "n", "p50 s", "p90 s"],
          [[r["stage"], r["n"], r["p50_seconds"], r["p90_seconds"]] for r in d["stage_times"]])
    sheet("异常率 exceptions", ["code", "title", "orders", "rate"],
          [[r["code"], r["title"], r["orders"], r["rate"]] for r in d["exception_rates"]])
    rv = d["reviews"]
    sheet("审核 reviews", ["kind", "total", "decided", "answered ≤15 min", "rate"],
          [[r["kind"], r["total"], r["decided"], r["answered_15m"], r["rate"]] for r in rv["by_kind"]]
          + [["all", rv["total"], None, rv["answered_15m"], rv["rate"]]])
    sheet("售后原因 aftersales", ["region", "reason", "count"],
          [[r["region"], r["reason"], r["count"]] for r in d["aftersales_by_region"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ order status (enquiries)


@router.get("/v1/orders/{order_id}/status", tags=["orders"], response_model=Doc, responses=errors(*AUTH, 404))
def order_status(request: Request, order_id: Annotated[str, Path(max_length=200)], role: str = Depends(require(*READERS))):
    """Where is my order? Counted as a customer status enquiry (experience index)."""
    o = read_model.get_order(_engine(request), order_id)
    if o is None:
        raise HTTPException(404, f"订单不存在: order {order_id!r} not found")
    metrics.record_enquiry(_engine(request), order_id, str(role))
    last = o["timeline"][-1] if o["timeline"] else None
    return {
        "order_id": order_id,
        "status": o["status"],
        "updated_at": o["updated_at"],
        "warehouse": o.get("warehouse"),
        "carrier": o.get("carrier"),
        "merged_into": o.get("merged_into"),
        "last_event": {"event": last["event"], "at": last["at"], "reason": last["reason"]} if last else None,
    }


# ------------------------------------------------------------------ reconciliation


class RunIn(BaseModel):
    day: date = Field(ge=EARLIEST_DAY, le=LATEST_DAY)
    wait: bool = Field(False, description="wait for the run to finish and return its report")


def _run_body(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "report_url": f"/v1/reconciliation/runs/{run['day']}/report.xlsx"}


@router.post("/v1/reconciliation/runs", tags=["finance"], status_code=202, response_model=Doc,
             responses={200: {"model": Doc, "description": "wait=true: the finished run's report"}, **errors(*AUTH, 503)})
async def start_run(request: Request, body: RunIn, _role: str = Depends(require("finance"))):
    settings = request.app.state.settings
    try:
        handle = await asyncio.wait_for(start_reconciliation(request.app.state.client, settings.queue_of("finance"),
                                                             body.day.isoformat()), timeout=settings.temporal_rpc_seconds + 1)
    except (TimeoutError, RPCError) as exc:
        raise HTTPException(503, f"对账未启动, 请稍后重试 (Temporal unavailable: {exc})",
                            headers={"Retry-After": str(settings.retry_after_seconds)}) from None
    started = {"day": body.day.isoformat(), "workflow_id": handle.id, "status": "started"}
    if not body.wait:
        return started
    try:
        await asyncio.wait_for(handle.result(), timeout=RUN_WAIT_SECONDS)
    except TimeoutError:
        return JSONResponse(started | {"message": f"still running after {RUN_WAIT_SECONDS:g} s; GET the run later"},
                            status_code=202)
    except WorkflowFailureError as exc:
        return JSONResponse(started | {"status": "failed", "message": f"对账失败 run failed: {exc.cause or exc}"[:500]},
                            status_code=202)
    run = await asyncio.to_thread(metrics.get_run, _engine(request), body.day)
    if run is None:
        return JSONResponse(started | {"status": "finished", "message": "finished without a stored report"}, status_code=202)
    return JSONResponse(_jsonable(_run_body(run)), status_code=200)


RUN_WAIT_SECONDS = 30.0


def _jsonable(x: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(x)


@router.get("/v1/reconciliation/runs", tags=["finance"], response_model=Listing, responses=errors(*AUTH))
def list_runs(request: Request, _role: str = Depends(require(*READERS))):
    """The latest 60 days with a run, newest first; ``total`` counts every day with one."""
    return {"items": metrics.list_runs(_engine(request)), "total": metrics.count_runs(_engine(request))}


@router.get("/v1/reconciliation/runs/{day}", tags=["finance"], response_model=Doc, responses=errors(*AUTH, 404))
def get_run(request: Request, day: Day, _role: str = Depends(require(*READERS))):
    run = metrics.get_run(_engine(request), day)
    if run is None:
        raise HTTPException(404, f"该日没有对账记录: no reconciliation run for {day}; start one with POST /v1/reconciliation/runs")
    return _run_body(run)


@router.get("/v1/reconciliation/runs/{day}/report.xlsx", tags=["finance"], response_class=Response,
            responses={**XLSX_RESPONSE, **errors(*AUTH, 404)})
def get_run_report(request: Request, day: Day, _role: str = Depends(require(*READERS))):
    run = metrics.get_run(_engine(request), day, workbook=True)
    if run is None:
        raise HTTPException(404, f"该日没有对账记录: no reconciliation run for {day}")
    return Response(
        run["workbook"], media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="reconciliation-{day}.xlsx"'}
    )
