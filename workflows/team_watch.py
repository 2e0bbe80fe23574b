"""The small-team rule inside the order workflow (``domain/team.py`` says what it means).

For an order of channel ``team``: a WeCom notice to the team's group when it is registered, then a
durable timer — still *untouched* when it runs out (``untouched_seconds``, 24 h), the order turns red
(flag ``stale``, event ``order.untouched``, projected at once; search attribute ``Untouched="red"``) and the group is told again, each
further period up to ``MAX_REMINDERS`` times. The wait ends the moment a person acts or the order
moves past review and release (or ends); then the red flag comes off. It runs beside the order's own
stages, started by ``OrderWorkflow.run`` and awaited before the workflow returns. Nothing scans.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import labels, team
    from domain.contracts.notify import NOTIFY_WECOM, NotifyRequest
    from domain.contracts.order import OrderRecord
    from domain.policy import OrderPolicy

from workflows import search_attributes as sa
from workflows.io import NOTIFY, Io, failure_text, wait_until
from workflows.ledger import Ledger

RED = "red"


class TeamWatch:
    def __init__(self, rec: OrderRecord, policy: OrderPolicy, io: Io, ledger: Ledger, received_by: str,
                 replacement_of: str | None) -> None:
        self.rec, self.policy, self.io, self.ledger, self.received_by = rec, policy, io, ledger, received_by
        # only a team's own order (an exchange's replacement order was not registered by the team)
        self.active = rec.submission.channel == team.CHANNEL and not replacement_of
        self._task: asyncio.Future[Any] | None = None

    def start(self) -> None:
        """Any other order: nothing (no command, so every other order's history is unchanged)."""
        if self.active:
            self._task = asyncio.ensure_future(self._run())

    async def settle(self) -> None:
        """The order has ended: the watch ends with it (its wait sees the terminal status)."""
        if self._task is not None:
            await self._task

    def _settled(self) -> bool:
        return not team.untouched(self.rec.status, self.ledger.timeline, self.received_by)

    async def _run(self) -> None:
        await self._notify(0)
        period = timedelta(seconds=self.policy.untouched_seconds)
        for n in range(1, team.MAX_REMINDERS + 1):
            if await wait_until(self._settled, period):
                break
            waited = self.policy.untouched_seconds * n
            if team.STALE_FLAG not in self.rec.flags:
                self.rec.flags = [*self.rec.flags, team.STALE_FLAG]
                workflow.upsert_search_attributes([sa.UNTOUCHED.value_set(RED)])  # the Temporal UI: Untouched="red"
            self.ledger.event("order.untouched", reason=f"登记后 {team.untouched_for(waited)}无人处理, 已标红并再次提醒",
                              data={"hours": round(waited / 3600, 4), "reminder": n})
            await self.ledger.flush()  # red in the read model now, not at the order's next step
            await self._notify(waited)
        else:
            await workflow.wait_condition(self._settled)
        if team.STALE_FLAG in self.rec.flags:
            self.rec.flags = [f for f in self.rec.flags if f != team.STALE_FLAG]
            workflow.upsert_search_attributes([sa.UNTOUCHED.value_unset()])
            who = team.person_who_acted(self.ledger.timeline, self.received_by)
            self.ledger.event("order.touched", reason=f"{who} 已处理, 取消标红" if who
                              else f"订单已{labels.order_status(self.rec.status.value)}, 取消标红")
            self.ledger.flush_soon()

    async def _notify(self, untouched_seconds: float) -> None:
        reason = team.notice_reason(self.rec.submission, self.received_by, untouched_seconds=untouched_seconds)
        try:
            await self.io.remote(NOTIFY_WECOM, NotifyRequest(
                order_id=self.rec.order_id, kind=team.NOTICE_KIND, reason=reason, console_url=self.policy.console_url,
                escalated=untouched_seconds > 0), options=NOTIFY, stuck=False)
        except Exception as exc:  # noqa: BLE001 - a lost notice must not fail the order
            self.ledger.event("notify.failed", reason=failure_text(exc)[:300], data={"kind": team.NOTICE_KIND})
