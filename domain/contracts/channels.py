"""Channel sync (ChannelSyncWorkflow, workflows/channel_sync.py): the payloads of the polling activities
(activities/channels.py) it calls for one time window, page by page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class WindowRequest(BaseModel):
    account_id: str
    start: datetime
    end: datetime
    page_size: int = 50


class PageRequest(WindowRequest):
    page_no: int


class PageResult(BaseModel):
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # unpaid / closed trades
    order_ids: list[str] = []
