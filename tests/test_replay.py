"""Determinism: histories committed in tests/histories (recorded by an earlier version) replay
against the code that still runs them; they catch changes that break running orders. Histories of
the first shape (type ``OrderWorkflow``) replay against ``workflows.legacy``, which the worker keeps
registered until those orders drain; histories of the current shape (type ``Order`` and its
children) replay against the current code. The histories of this very run are replayed by the test
that makes them (tests/workflow_helpers.py keep_history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflow_helpers import HISTORIES
from workers.sandbox import workflow_runner
from workflows.aftersales import AftersalesWorkflow
from workflows.fulfilment import FulfilmentWorkflow
from workflows.legacy.aftersales_v1 import AftersalesWorkflow as AftersalesWorkflowV1
from workflows.legacy.order_v1 import OrderWorkflow as OrderWorkflowV1
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow
from zhongshu.payload_codec import encrypted_data_converter

EVERY_SHAPE = [OrderWorkflowV1, AftersalesWorkflowV1, OrderWorkflow, FulfilmentWorkflow, ShipmentWorkflow,
               AftersalesWorkflow]


def _replayer() -> Replayer:
    """The worker's own data converter (the payload codec, issue 13): the recorded histories are
    plain, written before the codec, and pass through it."""
    return Replayer(workflows=EVERY_SHAPE, data_converter=encrypted_data_converter(""), workflow_runner=workflow_runner())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await _replayer().replay_workflow(history)

