"""Determinism: histories committed in tests/histories (recorded by an earlier version) replay
against the current code; they catch changes that break running orders. The histories of this very
run are replayed by the test that makes them (tests/workflow_helpers.py keep_history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflow_helpers import HISTORIES
from workflows.order import OrderWorkflow


def _replayer() -> Replayer:
    return Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await _replayer().replay_workflow(history)

