"""Personal data encrypted in Temporal (issue 13): an AES-GCM payload codec on every client and worker.

Temporal stores every workflow and activity input, result, signal and update as a payload; the
customer's name, phone and address travel in them. :class:`EncryptionCodec` encrypts each payload
(its whole serialised form, encoding included) with AES-256-GCM before it leaves the process and
decrypts it on the way back, so the server, its database and its HTTP API hold ciphertext only.

Keys come from ``ZHONGSHU_CODEC_KEYS="k2:<base64>,k1:<base64>"`` (ids and 16/24/32-byte keys): the
first key encrypts, every key decrypts, and the key id travels in the payload's metadata — so a new
key is put first and the old one kept (histories written under it still replay and decode) until no
open workflow or retained history uses it. A payload without the encryption encoding (histories
recorded before the codec, tests/histories/*.json) passes through unchanged; one naming a key id we
do not hold is a clear error, never a silent pass-through of ciphertext.

Without ``ZHONGSHU_CODEC_KEYS`` the published development key :data:`DEV_KEY` is used — accepted in
development mode only (zhongshu/auth_settings.py refuses it elsewhere). Search attributes are not
payloads a codec sees: what the workflows put there is masked at the source. Failure messages are not
payloads either (see :func:`encrypted_data_converter`)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

# a module that defines a workflow and imports this one (tests do) is re-imported by the workflow
# sandbox; cryptography's Rust extension cannot be loaded twice, so the sandbox takes it as it is
with workflow.unsafe.imports_passed_through():
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENCODING = b"binary/encrypted"  # metadata "encoding" of an encrypted payload
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
# the published development key: anyone can read histories encrypted with it (development only)
DEV_KEY_ID = "dev"
DEV_KEY = hashlib.sha256(b"zhongshu development payload codec key - never in production").digest()
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class CodecKeyError(ValueError):
    """ZHONGSHU_CODEC_KEYS is malformed (which entry, and why)."""


class UnknownCodecKey(ValueError):
    """A payload was encrypted with a key id this process does not hold."""


class PayloadDecryptError(ValueError):
    """An encrypted payload does not decrypt (tampered, or the key under its id changed)."""


@dataclass(frozen=True)
class CodecKeys:
    """Key id → key, in order: the first encrypts, all decrypt."""

    keys: tuple[tuple[str, bytes], ...]

    @property
    def current(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> list[str]:
        return [k for k, _ in self.keys]

    @property
    def development(self) -> bool:
        """Holds the published development key (refused outside development mode)."""
        return any(key == DEV_KEY for _, key in self.keys)

    @classmethod
    def parse(cls, text: str) -> CodecKeys:
        """``"k2:<base64>,k1:<base64>"`` → keys; an empty text → the development key."""
        entries = [e.strip() for e in (text or "").split(",") if e.strip()]
        if not entries:
            return cls(((DEV_KEY_ID, DEV_KEY),))
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate(entries, 1):
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            where = f"ZHONGSHU_CODEC_KEYS entry {n} ({key_id or '?'})"
            if not sep or not encoded.strip():
                raise CodecKeyError(f"{where}: expected <key id>:<base64 key>")
            if not _KEY_ID.match(key_id):
                raise CodecKeyError(f"{where}: a key id is 1-64 letters, digits, '_', '-' or '.'")
            if key_id in (k for k, _ in keys):
                raise CodecKeyError(f"{where}: the key id appears twice")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise CodecKeyError(f"{where}: the key is not valid base64") from None
            if len(key) not in (16, 24, 32):
                raise CodecKeyError(f"{where}: an AES key is 16, 24 or 32 bytes, this one is {len(key)} "
                                    "(make one: python -c \"import os, base64; print(base64.b64encode(os.urandom(32)).decode())\")")
            keys.append((key_id, key))
        return cls(tuple(keys))


def new_key() -> str:
    """A fresh 256-bit key, base64 (``zhongshu codec new-key <id>`` prints one as ``<id>:<key>``)."""
    return base64.b64encode(os.urandom(32)).decode()


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the whole serialised payload; the key id is in the metadata and bound to the
    ciphertext as associated data (a payload relabelled with another key id does not decrypt)."""

    def __init__(self, keys: CodecKeys):
        self.keys = keys
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.keys.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before the codec (or by a client without it): as it is
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownCodecKey(f"payload encrypted with key id {key_id!r}, which is not configured "
                                  f"(ZHONGSHU_CODEC_KEYS holds {self.keys.ids}); keep a rotated-out key listed "
                                  "while histories encrypted with it exist")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce and a tag
            raise PayloadDecryptError(f"payload under key id {key_id!r} does not decrypt: tampered with, or "
                                      "the key configured under that id is not the one it was encrypted with") from None
        return Payload.FromString(plain)


def codec_for(codec_keys: str) -> EncryptionCodec:
    return EncryptionCodec(CodecKeys.parse(codec_keys))


def encrypted_data_converter(codec_keys: str) -> DataConverter:
    """Temporal's pydantic data converter with the encryption codec: what every client and worker uses.
    Failure messages stay plain (Temporal's default): moving them into an encoded payload
    (DefaultFailureConverterWithEncodedAttributes) breaks the time-skipping test server, which cannot
    read a failure's encoded attributes; the product's own failure messages mask phones."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec_for(codec_keys))
