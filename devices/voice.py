"""Voice prompts through a pluggable text-to-speech backend.

``make_voice("auto")`` picks an offline engine when the machine has one — the ``espeak-ng`` (or
``espeak``) binary, else the ``pyttsx3`` package — and otherwise the log backend, which emits the
prompt text (logged and kept) so the picker's handheld, a test or an operator can read it. The
text is the contract: every backend receives the same prompt strings.
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import threading
from typing import Protocol

log = logging.getLogger("zhongshu.device.voice")


class Voice(Protocol):
    name: str

    def say(self, text: str) -> None: ...


class LogVoice:
    """Emits the prompt as text: logged, printed on the worker's console, kept for inspection."""

    name = "log"

    def __init__(self, keep: int = 1000, echo=None):
        self.spoken: collections.deque[str] = collections.deque(maxlen=keep)
        self.echo = echo
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            self.spoken.append(text)
        log.info("🔊 %s", text)
        if self.echo:
            self.echo(text)


class EspeakVoice(LogVoice):
    """espeak-ng speaking Mandarin (``-v cmn``), one process per prompt, never blocking the scans."""

    name = "espeak"

    def __init__(self, binary: str, voice: str = "cmn", **kw):
        super().__init__(**kw)
        self.binary = binary
        self.voice = voice

    def say(self, text: str) -> None:
        super().say(text)
        try:
            subprocess.Popen([self.binary, "-v", self.voice, text], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:  # pragma: no cover - the binary vanished
            log.warning("espeak failed: %s", exc)


class Pyttsx3Voice(LogVoice):  # pragma: no cover - needs a speech engine on the machine
    name = "pyttsx3"

    def __init__(self, **kw):
        super().__init__(**kw)
        import pyttsx3

        self.engine = pyttsx3.init()

    def say(self, text: str) -> None:
        super().say(text)
        self.engine.say(text)
        self.engine.runAndWait()


def make_voice(name: str = "auto", **kw) -> Voice:
    """``auto`` | ``espeak`` | ``pyttsx3`` | ``log``."""
    if name in ("auto", "espeak"):
        binary = shutil.which("espeak-ng") or shutil.which("espeak")
        if binary:
            return EspeakVoice(binary, **kw)
        if name == "espeak":
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    if name in ("auto", "pyttsx3"):
        try:
            return Pyttsx3Voice(**kw)
        except Exception as exc:
            if name == "pyttsx3":
                raise RuntimeError(f"pyttsx3 unavailable: {exc}") from exc
    return LogVoice(**kw)
