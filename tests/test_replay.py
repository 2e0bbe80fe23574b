"""Determinism: histories recorded from the workflow tests replay against the current code.

Two sources: histories committed in tests/histories (recorded by an earlier version; they catch
changes that break running orders) and those recorded in this very run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflow_helpers import HISTORIES, RECORDED
from workflows.order import OrderWorkflow


def _replayer() -> Replayer:
    return Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await _replayer().replay_workflow(history)


async def test_histories_from_this_run_replay():
    if not RECORDED:
        pytest.skip("run together with tests/test_order_workflow.py")
    replayer = _replayer()
    failures = {}
    for name, text in RECORDED.items():
        result = await replayer.replay_workflow(WorkflowHistory.from_json(name, text), raise_on_replay_failure=False)
        if result.replay_failure:
            failures[name] = str(result.replay_failure)
    assert not failures, failures
