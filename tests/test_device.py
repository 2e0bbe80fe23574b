"""The device worker through real serial links: pyserial ``loop://`` and pty pairs (the kernel's
pseudo-terminals, what /dev/rfcomm0 is to a Bluetooth SPP scanner), including a scanner that
disconnects and comes back on a re-created device node without losing the task position. The hub
is an in-memory backend here; tests/test_device_api.py drives the real API and WaveWorkflow."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import serial

from devices.backend import BackendUnavailable
from devices.scanner import ScannerLink
from devices.voice import LogVoice, make_voice
from devices.worker import DeviceWorker
from domain.warehouse import PickTask, ScanStep, TaskKind, TaskState


def task(n: int = 1, **kw) -> PickTask:
    base = dict(task_id=f"W-{n:03d}", wave_id="W", wave_no="B26-07", warehouse="HZ-DIRECT", seq=n, bin="A-03-12",
                sku="BOSCH-BP-COROLLA18", name="博世刹车片", barcode="6901234567890", quantity=3, notes=["易碎品轻拿"])
    base.update(kw)
    return PickTask(**base)


class FakeHub:
    """What the WaveWorkflow answers, in memory; ``down`` simulates an unreachable API."""

    def __init__(self, tasks: list[PickTask]):
        self.tasks = list(tasks)
        self.held: PickTask | None = None
        self.confirmed: list[tuple[str, int]] = []
        self.mis_scans: list[dict] = []
        self.exceptions: list[dict] = []
        self.down = False

    def _check(self):
        if self.down:
            raise BackendUnavailable("connection refused")

    def claim(self, device_id, picker):
        self._check()
        if self.held is None and self.tasks:
            self.held = self.tasks.pop(0)
        return self.held

    def confirm(self, t, picked_qty, device_id, picker):
        self._check()
        self.confirmed.append((t.task_id, picked_qty))
        self.held = None
        state = TaskState.SHORT if picked_qty < t.quantity else TaskState.QC_PENDING if t.qc_required else TaskState.DONE
        return t.model_copy(update={"state": state, "picked_qty": picked_qty})

    def mis_scan(self, event):
        self._check()
        self.mis_scans.append(event)

    def exception(self, body):
        self._check()
        self.exceptions.append(body)
        return f"WX-{len(self.exceptions)}"


class Running:
    """A DeviceWorker in a thread, stopped at the end."""

    def __init__(self, worker: DeviceWorker):
        self.worker = worker
        self.stop = threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)

    def spoken(self) -> list[str]:
        return list(self.worker.voice.spoken)

    def wait(self, pred, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; spoken: {self.spoken()[-6:]}")
            time.sleep(0.02)


def loop_worker(hub: FakeHub, **kw) -> tuple[DeviceWorker, serial.SerialBase]:
    port = serial.serial_for_url("loop://", timeout=0.05)
    link = ScannerLink("loop://", opener=lambda: port)
    w = DeviceWorker(link, hub, warehouse="HZ-DIRECT", device_id="MC33-01", picker="小张", voice=LogVoice(),
                     idle_poll=0.05, **kw)
    return w, port


def test_full_pick_over_loop_with_the_field_prompt():
    hub = FakeHub([task(1), task(2, bin="A-04-01", quantity=1)])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: any("波次B26-07" in s for s in r.spoken()))
        assert r.spoken()[0].startswith("波次B26-07,目标库位A-03-12,数量3件,易碎品轻拿")
        for code in (b"LOC:A-03-12\r\n", b"6901234567890\r\n", b"QTY:3\r\n"):
            port.write(code)
        r.wait(lambda: hub.confirmed == [("W-001", 3)])
        r.wait(lambda: any("目标库位A-04-01" in s for s in r.spoken()))  # the next task follows
        port.write(b"A-04-01\n6901234567890\n")  # a single unit: the item scan is the count
        r.wait(lambda: hub.confirmed == [("W-001", 3), ("W-002", 1)])
    assert not hub.mis_scans and w.state.confirmed == 2


def test_wrong_item_rejected_with_spoken_reason_and_counted():
    hub = FakeHub([task()])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        port.write(b"A-03-12\n6909999999999\n")
        r.wait(lambda: len(hub.mis_scans) == 1)
        assert any("商品错误" in s and "6909999999999" in s for s in r.spoken())
        assert hub.mis_scans[0]["kind"] == "wrong_item" and hub.mis_scans[0]["picker"] == "小张"
        assert w.state.session.step == ScanStep.ITEM and not hub.confirmed


def test_three_bad_bin_labels_raise_a_reprint_task_and_the_picker_waits():
    hub = FakeHub([task()])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        port.write(b"\xff\xfe\x00garbage\n")  # unreadable (undecodable bytes)
        port.write(b"NOREAD\n")
        port.write(b"A-03-11\n")  # wrong bin
        r.wait(lambda: len(hub.exceptions) == 1)
        assert hub.exceptions[0]["kind"] == "reprint_label" and hub.exceptions[0]["bin"] == "A-03-12"
        assert [m["kind"] for m in hub.mis_scans] == ["unreadable", "unreadable", "wrong_bin"]
        assert any("请原地等待" in s for s in r.spoken()) and w.state.session.step == ScanStep.WAIT
        port.write(b"6901234567890\n")  # still waiting: scanning on is refused
        r.wait(lambda: len(hub.mis_scans) == 4)
        assert w.state.session.step == ScanStep.WAIT
        port.write(b"LOC:A-03-12\n6901234567890\n3\n")  # the reprinted label
        r.wait(lambda: hub.confirmed == [("W-001", 3)])


def test_short_pick_reports_the_quantity_found():
    hub = FakeHub([task()])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        port.write(b"A-03-12\n6901234567890\nQTY:1\n")
        r.wait(lambda: hub.confirmed == [("W-001", 1)])
        assert any("缺货" in s and "实拣1件" in s for s in r.spoken())


def test_qc_task_is_announced_with_its_state():
    hub = FakeHub([task(qc_required=True, quantity=1)])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        port.write(b"A-03-12\n6901234567890\n")
        r.wait(lambda: hub.confirmed)
        r.wait(lambda: sum("待质检,红色齿轮" in s for s in r.spoken()) >= 2)  # on the scan and on the answer


def test_putaway_task_is_announced_as_putaway():
    hub = FakeHub([task(kind=TaskKind.PUTAWAY, state=TaskState.PUTAWAY_PENDING, quantity=2)])
    w, port = loop_worker(hub)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        assert r.spoken()[0].startswith("待上架,蓝色货架") and "请扫描商品" in r.spoken()[0]
        port.write(b"6901234567890\nA-03-12\n2\n")
        r.wait(lambda: hub.confirmed == [("W-001", 2)])


def test_hub_outage_keeps_calls_and_sends_them_once(tmp_path):
    hub = FakeHub([task(quantity=1)])
    w, port = loop_worker(hub, state_path=tmp_path / "device.json")
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        hub.down = True
        port.write(b"A-03-11\nA-03-12\n6901234567890\n")
        r.wait(lambda: len(w.state.outbox) == 2)  # the mis-scan and the confirmation, in order
        assert not hub.confirmed and w.state.session is not None
        hub.down = False
        r.wait(lambda: hub.confirmed == [("W-001", 1)] and len(hub.mis_scans) == 1)
        assert not w.state.outbox


def test_worker_restart_resumes_the_task_position_from_disk(tmp_path):
    state = tmp_path / "device.json"
    hub = FakeHub([task()])
    w, port = loop_worker(hub, state_path=state)
    with Running(w) as r:
        r.wait(lambda: w.state.session is not None)
        port.write(b"A-03-12\n6901234567890\n")
        r.wait(lambda: w.state.session.step == ScanStep.QUANTITY)
    w2, port2 = loop_worker(hub, state_path=state)
    assert w2.state.session.step == ScanStep.QUANTITY
    with Running(w2) as r:
        port2.write(b"3\n")
        r.wait(lambda: hub.confirmed == [("W-001", 3)])


# ---------------------------------------------------------------- pty pairs


class Pty:
    """A pseudo-terminal pair behind a stable path (like /dev/rfcomm0 re-created by bluetoothd)."""

    def __init__(self, link_path: Path):
        self.path = link_path
        self.master = None
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        tmp = self.path.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        tmp.replace(self.path)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.master)
        self.master = None

    def send(self, *codes: str) -> None:
        for c in codes:
            os.write(self.master, c.encode() + b"\r\n")
            time.sleep(0.02)

    def close(self) -> None:
        if self.master is not None:
            self.unplug()


@pytest.fixture
def pty(tmp_path):
    p = Pty(tmp_path / "rfcomm0")
    yield p
    p.close()


def pty_worker(hub: FakeHub, path: Path) -> DeviceWorker:
    link = ScannerLink(str(path), read_timeout=0.05, reconnect_interval=0.05)
    return DeviceWorker(link, hub, warehouse="HZ-DIRECT", device_id="MC33-07", picker="小李", voice=LogVoice(),
                        idle_poll=0.05)


def test_pick_over_a_pty_pair(pty):
    hub = FakeHub([task()])
    w = pty_worker(hub, pty.path)
    with Running(w) as r:
        r.wait(lambda: w.link.connected and w.state.session is not None)
        pty.send("A-03-12", "6901234567890", "QTY:3")
        r.wait(lambda: hub.confirmed == [("W-001", 3)])


def test_scanner_disconnect_and_reconnect_keeps_the_task_position(pty):
    hub = FakeHub([task()])
    w = pty_worker(hub, pty.path)
    with Running(w) as r:
        r.wait(lambda: w.link.connected and w.state.session is not None)
        pty.send("A-03-12", "6901234567890")
        r.wait(lambda: w.state.session.step == ScanStep.QUANTITY)
        pty.unplug()  # out of Bluetooth range: the node disappears
        r.wait(lambda: not w.link.connected)
        assert any("扫描枪已断开" in s for s in r.spoken())
        time.sleep(0.2)  # a few failed reopen attempts
        pty.plug()  # back in range: a new pty behind the same path
        r.wait(lambda: w.link.connected)
        assert any(s.startswith("扫描枪已连接,继续当前任务,请确认数量3件") for s in r.spoken())
        assert w.state.session.step == ScanStep.QUANTITY and w.link.disconnects == 1
        pty.send("QTY:3")
        r.wait(lambda: hub.confirmed == [("W-001", 3)])


def test_scanner_link_splits_lines_and_flags_noise():
    port = serial.serial_for_url("loop://", timeout=0.01)
    link = ScannerLink("loop://", opener=lambda: port)
    port.write(b"A-03-12\r\n\r\n69012\n")
    assert link.read_line(0.2) == "A-03-12"
    assert link.read_line(0.2) == "69012"
    assert link.read_line(0.05) is None
    port.write(b"\xff\xfe\n")
    assert "\ufffd" in link.read_line(0.2)
    port.write(b"x" * 600)
    assert link.read_line(0.5) == "\ufffd"


def test_voice_backends():
    v = make_voice("log")
    v.say("波次B26-07,目标库位A-03-12,数量3件")
    assert list(v.spoken) == ["波次B26-07,目标库位A-03-12,数量3件"]
    assert make_voice("auto").name in ("log", "espeak", "pyttsx3")
