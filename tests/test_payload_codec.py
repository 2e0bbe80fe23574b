"""The payload codec (issue 13, zhongshu/payload_codec.py): what goes into Temporal is ciphertext, comes
back as it was, survives a key rotation, and plain payloads written before the codec pass through.
The whole stack's histories, logs and traces are checked in tests/test_personal_data_stack.py."""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain.order import OrderSubmission
from tests.support import order_payload
from tests.test_replay import EVERY_SHAPE
from tests.workflow_helpers import HISTORIES
from zhongshu.auth_settings import AuthSettings, DefaultSecretError, refuse_default_secrets
from zhongshu.payload_codec import (
    DEV_KEY,
    ENCODING,
    KEY_ID_METADATA,
    CodecKeyError,
    CodecKeys,
    EncryptionCodec,
    PayloadDecryptError,
    UnknownCodecKey,
    codec_for,
    encrypted_data_converter,
    new_key,
)
from zhongshu.settings import Settings

PHONE = "13912345678"
ADDRESS = "杭州萧山区北干街道金城路188号"


def submission() -> OrderSubmission:
    p = order_payload(address={"raw": ADDRESS})
    p["customer"]["phone"] = PHONE
    return OrderSubmission.model_validate(p)


async def test_a_payload_round_trips_and_holds_no_plain_text():
    converter = encrypted_data_converter(f"k1:{new_key()}")
    sub = submission()
    [payload] = await converter.encode([sub])
    assert payload.metadata["encoding"] == ENCODING and payload.metadata[KEY_ID_METADATA] == b"k1"
    raw = payload.SerializeToString()
    for secret in (PHONE, ADDRESS, "王建国", "金城路"):
        assert secret.encode() not in raw
    [back] = await converter.decode([payload], [OrderSubmission])
    assert back == sub
    [again] = await converter.encode([sub])
    assert again.data != payload.data, "a fresh nonce each time"


async def test_key_rotation_the_old_key_still_decrypts_after_a_new_one_is_first():
    k1, k2 = new_key(), new_key()
    before = encrypted_data_converter(f"k1:{k1}")
    after = encrypted_data_converter(f"k2:{k2},k1:{k1}")
    [old] = await before.encode([submission()])
    [new] = await after.encode([submission()])
    assert new.metadata[KEY_ID_METADATA] == b"k2", "the first key encrypts"
    assert (await after.decode([old], [OrderSubmission]))[0].customer.phone.endswith(PHONE[-8:])
    with pytest.raises(UnknownCodecKey, match=r"'k2'.*not configured.*\['k1'\]"):
        await before.decode([new], [OrderSubmission])


async def test_an_unknown_key_id_is_a_clear_error_and_a_relabelled_payload_does_not_decrypt():
    k1, k2 = new_key(), new_key()
    [payload] = await codec_for(f"k1:{k1}").encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    with pytest.raises(UnknownCodecKey, match="'k1'"):
        await codec_for(f"k9:{k2}").decode([payload])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k2"}, data=payload.data)
    with pytest.raises(PayloadDecryptError, match="'k2'"):
        await codec_for(f"k2:{k2},k1:{k1}").decode([relabelled])
    with pytest.raises(PayloadDecryptError, match="'k1'"):  # the same id, another key
        await codec_for(f"k1:{k2}").decode([payload])


async def test_plain_payloads_pass_through_unchanged():
    sub = submission()
    plain = (await pydantic_data_converter.encode([sub]))[0]
    assert await codec_for(f"k1:{new_key()}").decode([plain]) == [plain]
    assert (await encrypted_data_converter("").decode([plain], [OrderSubmission])) == [sub]


@pytest.mark.parametrize("text, why", [
    ("k1", "<key id>:<base64 key>"), ("k1:", "<key id>:<base64 key>"), ("k 1:AAAA", "key id"),
    ("k1:not base64!", "not valid base64"), ("k1:" + base64.b64encode(b"short").decode(), "16, 24 or 32 bytes, this one is 5"),
    ("k1:{k},k1:{k}", "appears twice"),
])
def test_malformed_keys_name_the_entry_and_why(text, why):
    with pytest.raises(CodecKeyError, match=r"ZHONGSHU_CODEC_KEYS entry \d") as exc:
        CodecKeys.parse(text.format(k=new_key()))
    assert why in str(exc.value)


def test_the_development_key_only_in_development_mode(tmp_path):
    assert CodecKeys.parse("").development and CodecKeys.parse("").current == "dev"
    assert CodecKeys.parse(f"old:{base64.b64encode(DEV_KEY).decode()}").development, "listed under any id"
    real = dict(api_key="k" * 24, confirm_secret="c" * 24, carrier_app_secret="real-secret", var_dir=tmp_path)
    with pytest.raises(DefaultSecretError, match="ZHONGSHU_CODEC_KEYS"):
        refuse_default_secrets(Settings(**real), "worker", AuthSettings(dev_mode=False))
    refuse_default_secrets(Settings(**real), "worker", AuthSettings(dev_mode=True))
    refuse_default_secrets(Settings(**real, codec_keys=f"k1:{new_key()}"), "worker", AuthSettings(dev_mode=False))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json"))[:6], ids=lambda p: p.stem)
async def test_recorded_plain_histories_replay_through_the_codec(path):
    """The worker's data converter reads the histories written before the codec (a sample here;
    tests/test_replay.py replays them all with it)."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await Replayer(workflows=EVERY_SHAPE, data_converter=encrypted_data_converter(f"k1:{new_key()}")).replay_workflow(history)


def test_the_codec_is_what_every_client_gets():
    codec = encrypted_data_converter("").payload_codec
    assert isinstance(codec, EncryptionCodec) and codec.keys.current == "dev"


def test_the_cli_makes_a_key_and_lists_the_configured_ids_never_the_keys(monkeypatch):
    from typer.testing import CliRunner

    from zhongshu.cli import app
    from zhongshu.settings import get_settings

    runner = CliRunner()
    made = runner.invoke(app, ["codec", "new-key", "k2"])
    assert made.exit_code == 0, made.output
    entry = made.output.strip()
    assert CodecKeys.parse(entry).ids == ["k2"]
    old = f"k1:{new_key()}"
    monkeypatch.setenv("ZHONGSHU_CODEC_KEYS", f"{entry},{old}")
    get_settings.cache_clear()
    try:
        listed = runner.invoke(app, ["codec", "keys"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0 and "k2: encrypts" in listed.output and "k1: decrypts" in listed.output
    assert entry.split(":", 1)[1] not in listed.output
    assert runner.invoke(app, ["codec", "new-key", "bad id"]).exit_code == 2

