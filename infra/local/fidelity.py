"""Make moto's DynamoDB as atomic as DynamoDB.

DynamoDB applies each write to an item atomically: two concurrent `SET last_seq = last_seq + 1`
never read the same value. moto's backend reads, computes and writes without a lock, so threads
(moto's server, or tests calling it from threads) can interleave. One lock around the backend's
writes restores the guarantee the app relies on. Reads need no lock.
"""
import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue
        setattr(DynamoDBBackend, name, _serialised(original))
    _installed = True


def _serialised(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)
    return locked
