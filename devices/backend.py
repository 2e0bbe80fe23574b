"""How a device talks to the hub: the ``/v1/warehouse`` API with the device role's key.

``DeviceBackend`` is the small interface the worker needs (claim, confirm, report a mis-scan,
raise a floor exception); ``HttpBackend`` implements it over HTTP. A call that cannot reach the API
raises ``BackendUnavailable``; the worker keeps the call and retries, so nothing is lost.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from domain.warehouse import PickTask


class BackendUnavailable(RuntimeError):
    pass


class BackendRefused(RuntimeError):
    """The hub answered and said no (4xx): retrying the same call cannot help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class DeviceBackend(Protocol):
    def claim(self, device_id: str, picker: str) -> PickTask | None: ...

    def confirm(self, task: PickTask, picked_qty: int, device_id: str, picker: str) -> PickTask: ...

    def mis_scan(self, event: dict[str, Any]) -> None: ...

    def exception(self, body: dict[str, Any]) -> str: ...


class HttpBackend:
    def __init__(self, base_url: str, api_key: str, warehouse: str, timeout: float = 10.0):
        self.warehouse = warehouse
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout)

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            r = self.http.request(method, f"/v1/warehouse/{self.warehouse}{path}", json=body)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500:
            raise BackendUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise BackendRefused(r.status_code, str(detail))
        return r

    def claim(self, device_id: str, picker: str) -> PickTask | None:
        r = self._call("POST", "/claim", {"device_id": device_id, "picker": picker})
        return None if r.status_code == 204 else PickTask.model_validate(r.json())

    def confirm(self, task: PickTask, picked_qty: int, device_id: str, picker: str) -> PickTask:
        r = self._call("POST", f"/tasks/{task.task_id}/confirm",
                       {"picked_qty": picked_qty, "device_id": device_id, "picker": picker})
        return PickTask.model_validate(r.json())

    def mis_scan(self, event: dict[str, Any]) -> None:
        self._call("POST", "/misscans", event)

    def exception(self, body: dict[str, Any]) -> str:
        return self._call("POST", "/exceptions", body).json()["exception_id"]

    def close(self) -> None:
        self.http.close()
