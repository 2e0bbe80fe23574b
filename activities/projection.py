"""Projection activities: the workflows' thin deltas into the read model, stuck alerts, and the whole
state projection that OrderWorkflow v1 still uses while it drains."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from domain.contracts.projection import PROJECT, PROJECT_ORDER_V1, RECORD_STUCK, ProjectionDelta, StuckAlert
from domain.state import OrderState
from store import projection, read_model


class ProjectionActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=PROJECT.name)
    def project(self, delta: ProjectionDelta) -> None:
        projection.apply(self.engine, delta)

    @activity.defn(name=RECORD_STUCK.name)
    def record_stuck(self, alert: StuckAlert) -> None:
        projection.record_stuck(self.engine, alert)

    @activity.defn(name=PROJECT_ORDER_V1.name)
    def project_order(self, state: OrderState) -> None:
        read_model.project_order(self.engine, state)

    def all(self) -> list:
        return [self.project, self.record_stuck, self.project_order]
