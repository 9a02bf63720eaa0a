"""Make moto cost, per request, about what a request costs DynamoDB: nothing that grows with moto itself.

Measured with bench/load.py --profile (50 conversations on the local stack), each of these took a
share of the stack's CPU that AWS does not charge for, and none changes what a response says:

1. AttributeValues written as they are. moto's response serializer walks every value of every item
   member by member through its shape model, trying several key aliases for each of the ten members
   of an AttributeValue: most of the CPU of a GetItem on a conversation (its subscribers, its flood
   counters). moto keeps items in the wire format already ({"S": ...}, {"M": {...}}), so an
   AttributeValue made only of strings, numbers, booleans, nulls, sets, maps and lists of those is
   copied into the response as it is; anything else (binary) takes the serializer's own path.
2. Backends looked up once. Every request asks moto's BackendDict for its account, and each lookup
   scans the list of every service's backends (about 150 equality checks) to register itself again.
   Once an account's backend exists it is returned without the scan.
3. JSONPath parsed once. moto's EventBridge (input templates) and Step Functions (every path of
   every state) build a new jsonpath-ng parser, with its parse tables, for each expression each
   time: ~8 % of the stack's CPU at 50 conversations, for the same few expressions. Parsed
   expressions are immutable, so each is kept.
4. Names worked out once. For every request moto lists its handler class's methods with
   inspect.getmembers and converts the action's name (and every SQS queue attribute's) from
   CamelCase with regular expressions; classes and names do not change, so each answer is kept.
5. SQS receives in O(batch), not O(queue²). For each message it hands out, moto's ReceiveMessage
   looks up the queue's retention period through GetQueueAttributes, which works out every attribute,
   counting the queue's messages three times (visible, in flight, delayed) with a clock reading per
   message. A backlog of a few hundred webhook or email jobs then made each receive slower than the
   one before: at 100 conversations SQS took 15 % of moto's CPU and the queues never drained. Here
   the period is read from the queue itself, and the clock as time.time() (the same instant moto's
   datetime arithmetic works out, for a fraction of the cost).
6. Each state machine's ASL parsed once. moto's interpreter parses the definition with its ANTLR
   grammar at every StartExecution (7 % of moto's CPU at 100 conversations: every conversation
   starts a flow). The parsed program is a tree of evaluators that keep no state of their own (each
   execution's lives in its Environment), so one per definition is kept and shared.
7. Each update expression parsed once. UpdateItem (and each Update of a transaction) tokenizes and
   parses its expression again every time: a sixth of a message's TransactWriteItems in moto. The app
   sends a handful of distinct expressions (pynamodb names values by placeholders), and moto's validator
   works on a deep copy of the tree it is given, so each expression's tree is parsed once and kept.
"""
import functools

_installed = False
_PLAIN = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def install() -> None:
    global _installed
    if _installed:
        return
    _write_attribute_values_as_they_are()
    _look_up_backends_once()
    _parse_json_paths_once()
    _work_out_names_once()
    _receive_in_order_batch()
    _parse_state_machines_once()
    _parse_update_expressions_once()
    _installed = True


def _wire_shaped(value) -> bool:
    """Whether an AttributeValue is plain wire JSON already (no binary anywhere inside it)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (kind, inner), = value.items()
    if kind in _PLAIN:
        return True
    if kind == "M":
        return isinstance(inner, dict) and all(_wire_shaped(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(_wire_shaped(v) for v in inner)
    return False


def _write_attribute_values_as_they_are() -> None:
    from moto.core.serialize import BaseJSONSerializer
    generic = BaseJSONSerializer._serialize_type_structure

    @functools.wraps(generic)
    def serialize_structure(self, serialized, value, shape, key):
        if key and shape.name == "AttributeValue" and _wire_shaped(value):
            self._default_serialize(serialized, value, shape, key)
            return
        generic(self, serialized, value, shape, key)
    BaseJSONSerializer._serialize_type_structure = serialize_structure


def _look_up_backends_once() -> None:
    from moto.core.base_backend import BackendDict
    create = BackendDict._create_account_specific_backend

    @functools.wraps(create)
    def create_once(self, account_id):
        # BackendDict.reset() empties every dict and the list together, so a present account is registered
        if not dict.__contains__(self, account_id):
            create(self, account_id)
    BackendDict._create_account_specific_backend = create_once


def _remembered(module, name: str, maxsize: int = 4096) -> None:
    """Replace module.name, a pure function, by a memoised one, in every moto module that imported it
    by name too (`from x import name` keeps its own reference)."""
    import sys
    original = getattr(module, name)
    memoised = functools.lru_cache(maxsize=maxsize)(original)
    setattr(module, name, memoised)
    for other in list(sys.modules.values()):
        if getattr(other, "__name__", "").startswith("moto.") and getattr(other, name, None) is original:
            setattr(other, name, memoised)


def _parse_json_paths_once() -> None:
    import jsonpath_ng
    import jsonpath_ng.ext
    _remembered(jsonpath_ng, "parse", 1024)
    _remembered(jsonpath_ng.ext, "parse", 1024)


def _work_out_names_once() -> None:
    import moto.core.utils
    _remembered(moto.core.utils, "method_names_from_class", 512)
    _remembered(moto.core.utils, "camelcase_to_underscores")


def _receive_in_order_batch() -> None:
    import time

    from moto.sqs import models
    moto_clock = models.unix_time_millis

    def retained(self, queue_name: str, message) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()
    models.SQSBackend.is_message_valid_based_on_retention_period = retained

    @functools.wraps(moto_clock)
    def now_millis(dt=None):
        return time.time() * 1000.0 if dt is None else moto_clock(dt)
    models.unix_time_millis = now_millis


def _parse_state_machines_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    parse = AmazonStateLanguageParser.parse.__func__ if hasattr(AmazonStateLanguageParser.parse, "__func__") \
        else AmazonStateLanguageParser.parse
    AmazonStateLanguageParser.parse = staticmethod(functools.lru_cache(maxsize=64)(parse))


def _parse_update_expressions_once() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    parse = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make)
    UpdateExpressionParser.make = classmethod(lambda cls, expression: parse(expression))
