"""Worker interceptors: what every activity's failure looks like to the workflow and to people."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


def database_error(exc: SQLAlchemyError) -> ApplicationError:
    """The database's own message, without the statement and its parameters: a person reads it (the
    parameters hold customers' names and phones), and a whole order in a failure message only ends
    as "Failure exceeds size limit"."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).splitlines() or [""])[0]
    return ApplicationError(f"{type(orig).__name__}: {first[:400]}", type="DatabaseError")


class _ShortDatabaseErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except SQLAlchemyError as exc:
            raise database_error(exc) from None


class ShortDatabaseErrors(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ShortDatabaseErrors(next)
