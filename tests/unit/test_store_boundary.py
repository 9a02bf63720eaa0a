"""The store's boundary (chalicelib/store/dynamo.py): a failed condition is an answer, every other failure
travels on. Real pynamodb exceptions around real botocore ClientErrors, as pynamodb raises them; no AWS."""
import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import (
    CancellationReason,
    DeleteError,
    PutError,
    TransactWriteError,
    UpdateError,
    VerboseClientError,
)

from chalicelib.store.dynamo import cancelled, cancelled_for, condition_failed, delete_if, save_if, update_if, written

CONDITION = "ConditionalCheckFailedException"
THROTTLES = ("ProvisionedThroughputExceededException", "ThrottlingException")


def client_error(code: str, operation: str = "UpdateItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, operation)


def failure(kind, code: str):
    """What pynamodb raises for a write whose call failed with `code`: the ClientError is its cause."""
    operation = {UpdateError: "UpdateItem", PutError: "PutItem", DeleteError: "DeleteItem"}[kind]
    return kind(cause=client_error(code, operation))


class Item:
    """Stands in for a pynamodb model: each write raises `error` (if any), and is recorded."""

    def __init__(self, error: Exception | None = None):
        self.error, self.calls = error, []

    def _write(self, *args):
        self.calls.append(args)
        if self.error is not None:
            raise self.error

    def update(self, actions, condition):
        self._write("update", actions, condition)

    def save(self, condition):
        self._write("save", condition)

    def delete(self, condition):
        self._write("delete", condition)


def test_pynamodb_reads_the_code_from_the_cause():
    """What condition_failed relies on: cause_response_code is the ClientError's Error.Code."""
    assert failure(UpdateError, CONDITION).cause_response_code == CONDITION
    assert UpdateError().cause_response_code is None  # no cause at all (pynamodb's own failures)


@pytest.mark.parametrize("kind", [UpdateError, PutError, DeleteError])
def test_a_failed_condition_is_told_from_everything_else(kind):
    assert condition_failed(failure(kind, CONDITION))
    for code in THROTTLES + ("ValidationException", "InternalServerError"):
        assert not condition_failed(failure(kind, code)), code
    assert not condition_failed(kind())  # no cause
    assert not condition_failed(ValueError(CONDITION))  # not a write error
    # A transaction's failure is not a write's: its items are read with cancelled()
    assert not condition_failed(transaction_failed(client_error(CONDITION, "TransactWriteItems")))


@pytest.mark.parametrize("helper, kind", [
    (lambda item: update_if(item, ["action"], "condition"), UpdateError),
    (lambda item: save_if(item, "condition"), PutError),
    (lambda item: delete_if(item, "condition"), DeleteError),
])
def test_each_helper_answers_true_false_or_raises(helper, kind):
    done = Item()
    assert helper(done) is True
    assert len(done.calls) == 1

    lost = Item(failure(kind, CONDITION))
    assert helper(lost) is False
    assert len(lost.calls) == 1  # tried once: a lost race is not retried here

    for code in THROTTLES:
        throttled = Item(failure(kind, code))
        with pytest.raises(kind) as raised:
            helper(throttled)
        assert raised.value is throttled.error  # the very exception, not a wrapper
        assert raised.value.cause_response_code == code


def test_the_helpers_pass_their_arguments_through():
    item = Item()
    update_if(item, ["a", "b"], "cond")
    save_if(item, "cond-save")
    delete_if(item, "cond-delete")
    assert item.calls == [("update", ["a", "b"], "cond"), ("save", "cond-save"), ("delete", "cond-delete")]


def test_written_raises_what_is_no_write_error():
    def boom():
        raise RuntimeError("not DynamoDB's")
    with pytest.raises(RuntimeError):
        written(boom)
    assert written(lambda: None) is True


def transaction_failed(cause: Exception | None) -> TransactWriteError:
    return TransactWriteError("Failed to write transaction items", cause)  # as pynamodb's connection raises it


def transaction_cancelled(*codes: str) -> TransactWriteError:
    """A cancelled transaction as pynamodb raises it: one reason per item, None for an item that was fine."""
    reasons = [None if code == "None" else CancellationReason(code=code) for code in codes]
    return transaction_failed(VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"}},
                                                 "TransactWriteItems", cancellation_reasons=reasons))


def test_cancelled_says_which_items_failed_their_condition():
    exc = transaction_cancelled("None", "ConditionalCheckFailed", "None")
    assert cancelled(exc) == [False, True, False]
    assert cancelled_for(exc, "ConditionalCheckFailed")
    assert not cancelled_for(exc, "ThrottlingError")


def test_a_throttled_item_is_no_failed_condition():
    exc = transaction_cancelled("ThrottlingError", "None")
    assert cancelled(exc) == [False, False]
    assert cancelled_for(exc, "ThrottlingError")
    assert not cancelled_for(exc, "TransactionConflict")


def test_a_transaction_that_failed_without_reasons_names_none():
    """A throttle of the whole call (no cancellation), or no cause at all: no item is to blame."""
    for exc in (transaction_failed(client_error("ProvisionedThroughputExceededException", "TransactWriteItems")),
                transaction_failed(None)):
        assert cancelled(exc) == []
        assert not cancelled_for(exc, "ConditionalCheckFailed")
