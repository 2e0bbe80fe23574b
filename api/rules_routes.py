"""/v1/rules: upload, list, activate, diff and export routing rule versions.

Versions are immutable; uploading never changes how orders route until a version is activated,
and a running order keeps the version it was pinned to.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api.auth import READERS, Caller, actor, require
from api.schemas import AUTH, MAX_ID, Doc, Listing, errors
from domain.risk import catalogue
from domain.routing_rules import RulesWorkbookError
from store import rules

MAX_WORKBOOK_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["rules"])
Version = Path(ge=1, le=MAX_ID, description="a rules version number")
XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {XLSX: {}}, "description": "the workbook"}}


def _engine(request: Request):
    return request.app.state.engine


def _version_row(v) -> dict[str, Any]:
    d = v.model_dump(mode="json")
    d["filename"] = d.pop("source_filename")
    return d


@router.get("/v1/rules", response_model=Listing, responses=errors(*AUTH))
def list_rules(request: Request, _role: str = Depends(require(*READERS))):
    items = [_version_row(v) for v in rules.list_versions(_engine(request))]
    return {"active": rules.active_version(_engine(request)), "items": items}


@router.post("/v1/rules", status_code=201, response_model=Doc, responses=errors(*AUTH, 413))
def upload_rules(
    request: Request,
    file: UploadFile = File(..., description="the rules workbook (.xlsx)"),
    activate: bool = Query(False, description="activate the new version right away"),
    created_by: str | None = Query(None, max_length=64, description="omit: the signed-in person"),
    caller: Caller = Depends(require()),
):
    data = file.file.read(MAX_WORKBOOK_BYTES + 1)
    if len(data) > MAX_WORKBOOK_BYTES:
        raise HTTPException(413, f"文件过大: workbook larger than {MAX_WORKBOOK_BYTES // 1024 // 1024} MB")
    try:
        version = rules.import_rules(_engine(request), data, file.filename or "upload.xlsx",
                                     actor(caller, created_by, "created_by"))
    except RulesWorkbookError as exc:
        errors = [e.model_dump() | {"where": str(e)} for e in exc.errors]
        return JSONResponse(
            {"message": f"workbook rejected: {len(errors)} bad cell(s); nothing was imported", "errors": errors},
            status_code=422,
        )
    if activate:
        rules.activate(_engine(request), version)
    return {"version": version, "active": activate}


@router.post("/v1/rules/{version}/activate", response_model=Doc, responses=errors(*AUTH, 404))
def activate_rules(request: Request, version: int = Version, _role: str = Depends(require())):
    try:
        rules.activate(_engine(request), version)
    except LookupError:
        raise HTTPException(404, f"规则版本不存在: rules version {version} not found") from None
    return {"active": version}


@router.get("/v1/rules/diff", response_model=Doc, responses=errors(*AUTH, 404))
def diff_rules(
    request: Request,
    from_: int = Query(..., alias="from", ge=1, le=MAX_ID),
    to: int = Query(..., ge=1, le=MAX_ID),
    _role: str = Depends(require(*READERS)),
):
    try:
        d = rules.diff(_engine(request), from_, to)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    sheets = {
        name: {
            "added": s.added,
            "removed": s.removed,
            "changed": [
                {"key": c.key, "before": {k: v[0] for k, v in c.changes.items()},
                 "after": {k: v[1] for k, v in c.changes.items()}}
                for c in s.changed
            ],
        }
        for name, s in d.sheets.items()
    }
    return {"from": from_, "to": to, "empty": d.empty, "sheets": sheets}


@router.get("/v1/rules/{version}", response_model=Doc, responses=errors(*AUTH, 404))
def get_rules(request: Request, version: int = Version, _role: str = Depends(require(*READERS))):
    try:
        rs = rules.load(_engine(request), version)
    except LookupError:
        raise HTTPException(404, f"规则版本不存在: rules version {version} not found") from None
    return {"version": version, **rs.model_dump(mode="json", by_alias=True)}


@router.get("/v1/rules/{version}/export", response_class=Response, responses={**XLSX_RESPONSE, **errors(*AUTH, 404)})
def export_rules(request: Request, version: int = Version, _role: str = Depends(require(*READERS))):
    try:
        data = rules.export(_engine(request), version)
    except LookupError:
        raise HTTPException(404, f"规则版本不存在: rules version {version} not found") from None
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="rules-v{version}.xlsx"'})


@router.get("/v1/risk/features", tags=["risk"], response_model=Listing, responses=errors(*AUTH))
def risk_features(_role: str = Depends(require(*READERS))):
    """The 17 risk features with code, severity and Chinese title."""
    return {"items": catalogue()}
