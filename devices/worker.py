"""The device worker: one scanner, one picker, one current task.

Loop: hold a task (claim the next one from the hub when idle; the hub hands a device back the task
it already holds), announce it ('波次B26-07,目标库位A-03-12,数量3件'), check every scan with
``domain.warehouse.ScanSession`` (bin label → item barcode → quantity), speak the outcome, and
report: mis-scans per picker, a reprint-label exception after 3 bad bin labels (the picker is told
to wait until the new label scans), the confirmed or short pick.

Nothing is lost on the way: the scanner link reconnects by itself while the session (the task and
its step) stays in memory and, with ``state_path``, on disk; calls the hub could not take stay in
an outbox and are retried in order before the next task is claimed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from devices.backend import BackendRefused, BackendUnavailable, DeviceBackend, HttpBackend
from devices.scanner import ScannerLink
from devices.voice import LogVoice, Voice, make_voice
from domain.warehouse import (
    TASK_LOOK,
    ExceptionKind,
    ScanOutcome,
    ScanResult,
    ScanSession,
    TaskState,
    pick_prompt,
)

log = logging.getLogger("zhongshu.device")


class Outbox(BaseModel):
    kind: str  # misscan | exception | confirm
    body: dict[str, Any]


class DeviceState(BaseModel):
    session: ScanSession | None = None
    outbox: list[Outbox] = []
    confirmed: int = 0
    mis_scans: int = 0
    reprints: int = 0


class DeviceWorker:
    def __init__(
        self,
        link: ScannerLink,
        backend: DeviceBackend,
        *,
        warehouse: str,
        device_id: str,
        picker: str,
        voice: Voice | None = None,
        idle_poll: float = 2.0,
        state_path: Path | None = None,
    ):
        self.link = link
        self.backend = backend
        self.warehouse = warehouse
        self.device_id = device_id
        self.picker = picker
        self.voice = voice or LogVoice()
        self.idle_poll = idle_poll
        self.state_path = state_path
        self.state = self._load()
        self.last_outcome: ScanOutcome | None = None
        self._next_claim = 0.0
        link.on_change = self._scanner_changed

    # ---------------------------------------------------------------- persistence

    def _load(self) -> DeviceState:
        if self.state_path and self.state_path.exists():
            try:
                return DeviceState.model_validate_json(self.state_path.read_text())
            except ValueError:
                log.warning("device state %s unreadable; starting fresh", self.state_path)
        return DeviceState()

    def _save(self) -> None:
        if self.state_path:
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(self.state.model_dump_json())
            tmp.replace(self.state_path)

    # ---------------------------------------------------------------- voice

    def say(self, text: str) -> None:
        self.voice.say(text)

    def _scanner_changed(self, up: bool) -> None:
        s = self.state.session
        if up:
            self.say("扫描枪已连接" + (f",继续当前任务,{s.ask()}" if s else ""))
        else:
            self.say("扫描枪已断开,当前任务已保存,请重新连接扫描枪")

    # ---------------------------------------------------------------- the loop

    def run(self, stop: threading.Event) -> None:
        log.info("device %s (%s) for %s on %s", self.device_id, self.picker, self.warehouse, self.link.url)
        while not stop.is_set():
            self.step(timeout=0.2)
        self.link.close()

    def step(self, timeout: float = 0.2) -> bool:
        """Flush the outbox, make sure there is a task, handle at most one scan. True when a scan
        was handled."""
        self._flush()
        if self.state.session is None and not self.state.outbox:
            self._claim()
        line = self.link.read_line(timeout)
        if line is None:
            return False
        s = self.state.session
        if s is None:
            self.say("当前没有任务,请稍候")
            return True
        self.handle(line)
        return True

    def _claim(self) -> None:
        if time.monotonic() < self._next_claim:
            return
        try:
            task = self.backend.claim(self.device_id, self.picker)
        except (BackendUnavailable, BackendRefused) as exc:
            log.warning("claim failed: %s", exc)
            self._next_claim = time.monotonic() + self.idle_poll
            return
        if task is None:
            self._next_claim = time.monotonic() + self.idle_poll
            return
        self.state.session = ScanSession.start(task)
        self._save()
        look = TASK_LOOK.get(task.state)
        prefix = f"{look.spoken}," if task.state == TaskState.PUTAWAY_PENDING and look else ""
        self.say(prefix + pick_prompt(task) + "," + self.state.session.ask())

    def handle(self, line: str) -> None:
        s = self.state.session
        assert s is not None
        outcome = s.scan(line)
        self.last_outcome = outcome
        self.say(outcome.prompt)
        task = s.task
        if outcome.mis_scan:
            self.state.mis_scans += 1
            self.state.outbox.append(Outbox(kind="misscan", body=dict(
                event_id=f"{self.device_id}-{uuid.uuid4().hex[:16]}", warehouse=self.warehouse, picker=self.picker,
                device_id=self.device_id, task_id=task.task_id, kind=outcome.mis_scan.value, barcode=line[:200],
                at=datetime.now(UTC).isoformat(),
            )))
        if outcome.result == ScanResult.REPRINT:
            self.state.reprints += 1
            self.state.outbox.append(Outbox(kind="exception", body=dict(
                kind=ExceptionKind.REPRINT_LABEL.value, task_id=task.task_id, bin=task.bin, picker=self.picker,
                device_id=self.device_id,
            )))
        if outcome.result in (ScanResult.CONFIRMED, ScanResult.SHORT):
            self.state.outbox.append(Outbox(kind="confirm", body={"picked_qty": outcome.picked_qty}))
        self._save()
        self._flush()

    def _flush(self) -> None:
        """Send what the hub has not taken yet, in order; stop at the first unreachable call."""
        while self.state.outbox:
            item = self.state.outbox[0]
            try:
                if item.kind == "misscan":
                    self.backend.mis_scan(item.body)
                elif item.kind == "exception":
                    self.backend.exception(item.body)
                else:
                    s = self.state.session
                    assert s is not None
                    done = self.backend.confirm(s.task, item.body["picked_qty"], self.device_id, self.picker)
                    self.state.confirmed += 1
                    self.state.session = None
                    if done.state in (TaskState.QC_PENDING, TaskState.PUTAWAY_PENDING):
                        look = TASK_LOOK[done.state]
                        self.say(f"{look.spoken}")
            except BackendUnavailable as exc:
                log.warning("hub unreachable, %d call(s) kept: %s", len(self.state.outbox), exc)
                return
            except BackendRefused as exc:
                log.error("hub refused %s: %s", item.kind, exc)
                if item.kind == "confirm":
                    self.say("系统拒绝了本次确认,请联系组长")
                    self.state.session = None
            self.state.outbox.pop(0)
            self._save()


def run_device(port: str, *, api_url: str, api_key: str, warehouse: str, device_id: str, picker: str,
               voice: str = "auto", state_dir: Path | None = None, baudrate: int = 9600) -> None:
    """`zhongshu device --port …`: run until Ctrl-C."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    state_path = None
    if state_dir:
        state_dir.mkdir(parents=True, exist_ok=True)
        state_path = state_dir / f"device-{device_id}.json"
    worker = DeviceWorker(
        ScannerLink(port, baudrate=baudrate), HttpBackend(api_url, api_key, warehouse),
        warehouse=warehouse, device_id=device_id, picker=picker, voice=make_voice(voice, echo=print),
        state_path=state_path,
    )
    worker.run(stop)


def status(worker: DeviceWorker) -> dict[str, Any]:
    s = worker.state.session
    return json.loads(json.dumps({
        "task": s.task.task_id if s else None, "step": s.step if s else None, "outbox": len(worker.state.outbox),
        "confirmed": worker.state.confirmed, "mis_scans": worker.state.mis_scans, "scanner": worker.link.connected,
    }))
