"""Queue tickets: a conversation's place in its queue without reading the whole queue.

Each queue (a workspace and a group, `conversations.queue_key`) has one counter item in the keys
table. A conversation entering the queue takes the next ticket and, in the same conditional write,
a `queued_at` strictly later than the previous ticket's. So within a queue, the queue-index order
(by `queued_at`) is the ticket order, even when two conversations arrive in the same millisecond or
a container's clock is behind: every conversation waiting between two others holds a ticket
between theirs, which is what lets `place` bound a position without reading what lies between.
"""
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.core.clock import iso, one_ms_after
from chalicelib.errors import ConflictError
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation, Key

# A take that loses the race to another arrival retries; each loss means another ticket was issued,
# so this many only in a burst of that many arrivals within milliseconds in one queue.
MAX_TRIES = 25



@dataclass(frozen=True)
class Ticket:
    number: int
    queued_at: str


def counter_key(queue: str) -> str:
    return f"queue#{queue}"


def take(queue: str) -> Ticket:
    """The next ticket of `queue` with its `queued_at`, later than every earlier ticket's."""
    stamp = iso()
    for _ in range(MAX_TRIES):
        counter = Key(counter_key(queue))
        if update_if(counter, [Key.seq.add(1), Key.queued_at.set(stamp)],
                     Key.queued_at.does_not_exist() | (Key.queued_at < stamp)):
            return Ticket(int(counter.seq), stamp)
        stamp = max(iso(), one_ms_after(_latest_stamp(queue)))
    raise ConflictError("too many conversations are joining this queue at once; retry")


def _latest_stamp(queue: str) -> str:
    try:
        return Key.get(counter_key(queue), consistent_read=True).queued_at
    except DoesNotExist:  # nothing to be later than
        return iso()


def place(conversation: Conversation, head: list[Conversation]) -> int | None:
    """The conversation's position given the first places of its queue (`head`, in queue order).

    Among them: its exact place. Behind them: len(head) + (its ticket − the last one's), an upper
    bound (every conversation waiting in between holds a ticket in between; a ticket that left out
    of order still counts until the conversation reaches the head). None when it cannot be bounded:
    a conversation (or a head) queued before tickets existed.
    """
    for index, queued in enumerate(head, start=1):
        if queued.id == conversation.id:
            return index
    if not head:  # the index has not caught up with it yet, and nobody else is waiting
        return 1
    last = head[-1]
    if conversation.ticket is None or last.ticket is None:
        return None
    return len(head) + max(1, int(conversation.ticket) - int(last.ticket))
