"""A barcode scanner in serial pass-through mode (Zebra MC33 over Bluetooth SPP: one barcode per
line, CR and/or LF terminated), read with pyserial from any URL: ``/dev/rfcomm0``, a pty path,
``loop://``, ``socket://host:port``, ``rfc2217://…``.

``ScannerLink.read_line`` never raises on a lost link: it closes the port, reports the
disconnect once, and keeps trying to reopen the same URL (a Bluetooth scanner walking out of range
and back, or a re-created ``/dev/rfcomm0``); the caller's task state is untouched meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import serial

log = logging.getLogger("zhongshu.device.scanner")

MAX_LINE = 512  # a barcode longer than this is line noise


class SerialPort(Protocol):
    """What the link uses of a pyserial port: every port ``serial_for_url`` opens has it
    (``serial.SerialBase`` itself leaves ``in_waiting`` to its subclasses)."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = ..., /) -> bytes: ...
    def write(self, b: bytes, /) -> int | None: ...
    def close(self) -> None: ...


class ScannerLink:
    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        read_timeout: float = 0.1,
        reconnect_interval: float = 0.5,
        opener: Callable[[], SerialPort] | None = None,
        on_change: Callable[[bool], None] | None = None,
    ):
        self.url = url
        self.baudrate = baudrate
        self.read_timeout = read_timeout
        self.reconnect_interval = reconnect_interval
        self._opener = opener or (lambda: serial.serial_for_url(url, baudrate=baudrate, timeout=read_timeout))
        self.on_change = on_change
        self.port: SerialPort | None = None
        self.connected = False
        self.disconnects = 0
        self._buf = bytearray()
        self._next_try = 0.0

    def open(self) -> bool:
        if self.port is not None:
            return True
        if time.monotonic() < self._next_try:
            return False
        try:
            self.port = self._opener()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._next_try = time.monotonic() + self.reconnect_interval
            log.debug("scanner %s not available: %s", self.url, exc)
            return False
        self._buf.clear()
        self._set(True)
        return True

    def _set(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            if not up:
                self.disconnects += 1
            log.info("scanner %s %s", self.url, "connected" if up else "disconnected")
            if self.on_change:
                self.on_change(up)

    def _drop(self, why: object) -> None:
        log.warning("scanner %s lost: %s", self.url, why)
        try:
            if self.port is not None:
                self.port.close()
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.port = None
        self._buf.clear()
        self._next_try = time.monotonic() + self.reconnect_interval
        self._set(False)

    def read_line(self, timeout: float = 0.5) -> str | None:
        """The next barcode (decoded, stripped; undecodable bytes become U+FFFD), or None when
        nothing complete arrived within ``timeout`` (or the scanner is away)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if time.monotonic() >= deadline:
                return None
            if not self.open():
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            port = self.port
            assert port is not None  # open() returned True
            try:
                chunk = port.read(max(1, port.in_waiting or 1))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                self._drop(exc)
                continue
            if chunk:
                self._buf.extend(chunk)
                if len(self._buf) > MAX_LINE and b"\n" not in self._buf and b"\r" not in self._buf:
                    self._buf.clear()
                    return "\ufffd"  # noise without a terminator: one unreadable scan

    def _take_line(self) -> str | None:
        while True:
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                return None
            i = min(ends)
            raw = bytes(self._buf[:i])
            del self._buf[: i + 1]
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                return text  # blank lines (the LF of a CRLF, a bare CR) are not scans

    def write(self, data: bytes) -> None:
        """Feed a loop:// port (tests, the bench) or send to a device that listens."""
        if self.port is not None:
            self.port.write(data)

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            finally:
                self.port = None
