"""The store's boundary: the one place that tells a failed condition from every other DynamoDB failure.

A conditional write that loses its condition is an answer (someone else got there first); a throttle,
a timeout or a validation error is a fault and must travel on. Modules above ask these helpers, and
never read pynamodb's error codes themselves.
"""
from collections.abc import Callable

from pynamodb.connection import Connection as DynamoConnection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.errors import NotFoundError

CONDITION_FAILED = "ConditionalCheckFailedException"
_WRITE_ERRORS = (PutError, UpdateError, DeleteError)
_dynamo = None


def dynamo() -> DynamoConnection:
    """One low-level connection for transactions, created once per container."""
    global _dynamo
    if _dynamo is None:
        _dynamo = DynamoConnection(region=settings.region)
    return _dynamo


def condition_failed(exc: Exception) -> bool:
    """Whether a pynamodb write failed its condition (and nothing else)."""
    return isinstance(exc, _WRITE_ERRORS) and exc.cause_response_code == CONDITION_FAILED


def written(write: Callable[[], object]) -> bool:
    """Run one conditional write: True when it was made, False when its condition failed; any other
    failure (a throttle, a timeout) is raised."""
    try:
        write()
    except _WRITE_ERRORS as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def update_if(item, actions: list, condition) -> bool:
    """`item.update(actions, condition)`; False when the condition failed."""
    return written(lambda: item.update(actions=actions, condition=condition))


def save_if(item, condition) -> bool:
    """`item.save(condition)`; False when the condition failed."""
    return written(lambda: item.save(condition=condition))


def delete_if(item, condition) -> bool:
    """`item.delete(condition)`; False when the condition failed."""
    return written(lambda: item.delete(condition=condition))


def cancelled(exc: TransactWriteError) -> list[bool]:
    """Which items of a cancelled transaction failed their condition."""
    return [bool(r and r.code == "ConditionalCheckFailed") for r in (exc.cancellation_reasons or [])]


def cancelled_for(exc: TransactWriteError, code: str) -> bool:
    """Whether any item of a cancelled transaction was cancelled for this reason code."""
    return any(r and r.code == code for r in (exc.cancellation_reasons or []))


def owned(caller: Caller, model, key: str, what: str, *, consistent: bool = False):
    """The item of the caller's workspace with this key; NotFoundError for a missing one and for
    another workspace's alike, so ids leak nothing across workspaces."""
    try:
        item = model.get(key, consistent_read=consistent)
    except DoesNotExist:
        raise NotFoundError(f"no such {what}") from None
    if item.workspace_id != caller.workspace_id:
        raise NotFoundError(f"no such {what}")
    return item
