"""Channel sync (ChannelSyncWorkflow, workflows/channel_sync.py): the payloads of the polling activities
(activities/channels.py) it calls for one time window, page by page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.channels.health import HealthAlert, SyncHealthReport, WatchHealthReport
from domain.contracts import Activity


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


# the channel sync's and the watchdog's activities (activities/channels.py)
COUNT_CHANNEL_WINDOW: Activity[WindowRequest, int] = Activity("count_channel_window", WindowRequest, int)
SYNC_CHANNEL_PAGE: Activity[PageRequest, PageResult] = Activity("sync_channel_page", PageRequest, PageResult)
RECORD_SYNC_HEALTH: Activity[SyncHealthReport, bool] = Activity("record_sync_health", SyncHealthReport, bool)
RECORD_WATCH_HEALTH: Activity[WatchHealthReport, bool] = Activity("record_watch_health", WatchHealthReport, bool)
NOTIFY_CHANNEL_HEALTH: Activity[HealthAlert, None] = Activity("notify_channel_health", HealthAlert, None)
