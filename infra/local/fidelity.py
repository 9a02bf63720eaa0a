"""Make moto behave like AWS where the app (or its tests) rely on it: DynamoDB, and Cognito's tokens.

1. Atomic writes. DynamoDB applies each write (and each transaction) atomically: two concurrent
   conditional writes never both see the old value. moto's backend reads, checks and writes without
   a lock, so threads (moto's server, or tests calling it from threads) can interleave. One lock
   around the backend's writes restores the guarantee. Reads take it too, for the whole request:
   moto updates an item in place, one action at a time, and serializes the live item a read returns
   after the backend has answered, so a read beside a write could see half an update (a new `seq`
   with the old flood-limit times, which the next conditional write then based itself on) or fail
   with "dictionary changed size during iteration" (both seen once the stack's threads switched
   every 0.5 ms: stack.SWITCH_INTERVAL).
2. Transactions cost what they touch. moto backs up every table a TransactWriteItems names, with a
   deep copy, before it starts: O(table size) per transaction, ~0.9 s at 10,000 conversations,
   where DynamoDB's cost does not depend on the table at all. Here the backup is made per item:
   the items the transaction names are copied and put back if it is cancelled (same semantics).
3. Streams see whole transactions only. A cancelled transaction leaves no stream record (moto
   writes some before it finds the failing condition), and a stream reader never sees a
   transaction half-applied (reads of the streams take the writes' lock). Shard iterators are
   forgotten once read from, as DynamoDB expires them, so a poller does not grow moto's memory.
4. Tokens last as long as the app client says. Cognito issues access and ID tokens for the client's
   AccessTokenValidity / IdTokenValidity (in its TokenValidityUnits, hours by default); moto always
   issues them for an hour. Here a client's validity is honoured, so a test can hold a token the
   pool really signed that has really expired (moto does not enforce Cognito's 5-minute minimum,
   so it can be a second: tests/protocol/test_authz.py).
5. Key sizes on reads too. DynamoDB refuses a partition key over 2,048 bytes or a sort key over 1,024
   with a ValidationException on every operation that names a key (GetItem, DeleteItem, UpdateItem,
   Query); moto checks only the items it writes, so an oversized id from a client would look like a
   miss here and answer 500 on AWS.
"""
import contextvars
import copy
import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from . import speedups
    speedups.install()  # what moto costs per request, apart from what it does (speedups.py)
    from moto.dynamodb import models
    models.DynamoDBBackend.transact_write_items = _backed_up_per_item(models.DynamoDBBackend.transact_write_items)
    models.copy = _CopyShim(models.Table)
    for name in _WRITES:
        original = getattr(models.DynamoDBBackend, name, None)
        if original is not None:
            setattr(models.DynamoDBBackend, name, _serialised(original))
    from moto.dynamodb.responses import DynamoHandler
    DynamoHandler.call_action = _serialised(DynamoHandler.call_action)  # reads too, answer and all (1.)
    for name in ("get_item", "delete_item", "update_item"):
        setattr(models.DynamoDBBackend, name, _key_sizes_checked(getattr(models.DynamoDBBackend, name)))
    models.DynamoDBBackend.query = _query_key_sizes_checked(models.DynamoDBBackend.query)
    from moto.dynamodbstreams import models as streams
    streams.DynamoDBStreamsBackend.get_records = _serialised(_forgetting_iterators(
        streams.DynamoDBStreamsBackend.get_records))
    from moto.cognitoidp import models as cognito
    cognito.CognitoIdpUserPool.create_jwt = _client_lifetimes(cognito.CognitoIdpUserPool.create_jwt)
    _installed = True


_per_item = contextvars.ContextVar("per_item_backup", default=False)


class _CopyShim:
    """moto.dynamodb.models' `copy`: while a transaction runs, a Table is "copied" as itself (its
    items are backed up one by one instead, below); everything else is copied as usual."""

    def __init__(self, table_class):
        self._table_class = table_class

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, obj, memo=None):
        if _per_item.get() and isinstance(obj, self._table_class):
            return obj
        return copy.deepcopy(obj, memo)


def _backed_up_per_item(original):
    from moto.dynamodb.models.dynamo_type import DynamoType

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        backups = []
        for item in transact_items:
            op = next(iter(item.values()))
            table = self.tables.get(op.get("TableName"))
            source = op.get("Item") or op.get("Key") or {}
            if table is None or table.hash_key_attr not in source or (
                    table.range_key_attr and table.range_key_attr not in source):
                continue  # moto rejects it before changing anything
            hash_value = DynamoType(source[table.hash_key_attr])
            range_value = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
            backups.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        streamed = {id(table): (table.stream_shard, len(table.stream_shard.items))
                    for table, *_ in backups if table.stream_shard is not None}
        token = _per_item.set(True)
        try:
            return original(self, transact_items)
        except Exception:
            for shard, length in streamed.values():
                del shard.items[length:]
            for table, hash_value, range_value, old in reversed(backups):
                if range_value is None:
                    if old is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = old
                elif old is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = old
            raise
        finally:
            _per_item.reset(token)
    return transact_write_items


def _key_sizes_checked(method):
    """GetItem, DeleteItem, UpdateItem: the key (the argument after the table's name) within DynamoDB's sizes."""
    @functools.wraps(method)
    def checked(self, table_name, *args, **kwargs):
        key = args[0] if args else kwargs.get("keys", kwargs.get("key"))
        if isinstance(key, dict):
            self.get_table(table_name)._validate_key_sizes(key)
        return method(self, table_name, *args, **kwargs)
    return checked


def _query_key_sizes_checked(query):
    """Query: its partition key value and sort key values within DynamoDB's sizes."""
    from moto.dynamodb.exceptions import HashKeyTooLong, RangeKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
    from moto.dynamodb.models.dynamo_type import DynamoType

    @functools.wraps(query)
    def checked(self, table_name, hash_key_dict, range_comparison, range_value_dicts, *args, **kwargs):
        hashes = [hash_key_dict] if hash_key_dict else []
        hashes += [value for _, value in kwargs.get("hash_key_conditions") or []]
        ranges = list(range_value_dicts or [])
        ranges += [value for _, _, values in kwargs.get("range_key_conditions") or [] for value in values]
        if any(DynamoType(value).size() > HASH_KEY_MAX_LENGTH for value in hashes):
            raise HashKeyTooLong
        if any(DynamoType(value).size() > RANGE_KEY_MAX_LENGTH for value in ranges):
            raise RangeKeyTooLong
        return query(self, table_name, hash_key_dict, range_comparison, range_value_dicts, *args, **kwargs)
    return checked


def _forgetting_iterators(get_records):
    """moto keeps every shard iterator forever, and each read makes a new one: a poller's reads grow
    its memory without end. DynamoDB expires iterators (after 15 minutes); here one is forgotten once
    read from (readers go on with NextShardIterator, or ask for a new one)."""
    @functools.wraps(get_records)
    def read_once(self, iterator_arn, limit):
        try:
            return get_records(self, iterator_arn, limit)
        finally:
            self.shard_iterators.pop(iterator_arn, None)
    return read_once


def _serialised(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)
    return locked


# The app client's setting and its unit for each kind of token (Cognito's names).
_VALIDITY = {"access": ("AccessTokenValidity", "AccessToken"), "id": ("IdTokenValidity", "IdToken")}
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _client_lifetimes(create_jwt):
    """moto's token maker, with the lifetime the app client sets (when it sets one) instead of moto's hour."""
    @functools.wraps(create_jwt)
    def create(pool, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
        setting, unit_name = _VALIDITY.get(token_use, (None, None))
        config = getattr(pool.clients.get(client_id), "extended_config", None) or {}
        if setting and config.get(setting):
            unit = (config.get("TokenValidityUnits") or {}).get(unit_name, "hours")
            expires_in = int(config[setting]) * _UNIT_SECONDS.get(unit, 3600)
        return create_jwt(pool, client_id, username, token_use, expires_in, extra_data)
    return create
