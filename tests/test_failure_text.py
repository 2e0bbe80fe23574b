"""What a person reads when a best-effort step failed (timeline ``notify.failed``, ``installation.failed``):
the partner's own message, never the SDK's "Activity task failed"."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from workflows.io import failure_text


def activity_error(cause: BaseException) -> ActivityError:
    err = ActivityError("Activity task failed", scheduled_event_id=5, started_event_id=6, identity="w",
                        activity_type="notify_wecom", activity_id="7", retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED)
    err.__cause__ = cause
    return err


def test_the_innermost_message_is_shown():
    exc = activity_error(ApplicationError("企业微信: HTTP 503", type="WeComError"))
    assert failure_text(exc) == "企业微信: HTTP 503"


def test_a_bare_exception_keeps_its_own_text_and_long_ones_are_cut():
    assert failure_text(ValueError("没有预约地址")) == "没有预约地址"
    assert len(failure_text(ApplicationError("x" * 2000))) == 500
