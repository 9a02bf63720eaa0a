"""A returning visitor's new socket (a reload, a new tab) is subscribed during its $connect, before API
Gateway holds it: a message posted in that instant answers 410 Gone for it. Issue 13, defect 10: that
410 made the server forget the new connection and its subscription, and the widget heard nothing more."""
import json

from chalicelib.chat import lifecycle
from chalicelib.core.clock import iso, now
from chalicelib.edges import ws
from chalicelib.store.models import Connection, Conversation
from tests.integration.test_routing import new_chat

ROUNDS = 25


def agent_says(world, agent, conversation_id: str, text: str) -> None:
    ws.handle_frame(agent.connection_id, json.dumps({"action": "send", "ref": text, "conversation_id": conversation_id,
                                                     "text": text}), world.sender)
    assert world.api.of(agent.connection_id, "ack")[-1]["ref"] == text


def test_a_message_posted_while_a_returning_visitors_socket_opens_loses_nothing(world):
    agent = world.online_agent(capacity=3)
    session = world.visitor_session()
    previous, chat = new_chat(world, session=session)
    for n in range(ROUNDS):
        reload = f"reload-{n}"
        lifecycle.connect(reload, session["token"])  # $connect is running: recorded and subscribed
        if n % 2:  # the old page's socket closes before or after the new one opens: both happen
            lifecycle.disconnect(previous.connection_id)
        agent_says(world, agent, chat, f"while opening {n}")  # API Gateway: 410 for `reload`, not open yet
        world.api.connect(reload)  # $connect returned: the socket is open
        if not n % 2:
            lifecycle.disconnect(previous.connection_id)
        # What the widget does once open: read the history, then hear the rest live.
        ws.handle_frame(reload, json.dumps({"action": "history", "ref": "h", "conversation_id": chat, "limit": 5}),
                        world.sender)
        history = [m["text"] for m in world.api.of(reload, "ack")[-1]["messages"]]
        assert f"while opening {n}" in history, (n, history)
        agent_says(world, agent, chat, f"after opening {n}")
        live = [f["message"]["text"] for f in world.api.of(reload, "message")]
        assert live == [f"after opening {n}"], (n, live)
        assert Connection.count(reload) == 1 and reload in Conversation.get(chat).subscribers.as_dict()
        previous = lifecycle.caller_for_connection(reload)


def test_a_connection_gone_after_it_opened_is_still_forgotten_at_the_first_410(world):
    agent = world.online_agent(capacity=3)
    visitor, chat = new_chat(world)
    long_ago = iso(now() - 2 * lifecycle.OPENING_SECONDS)  # opened long before: a 410 now means it is gone
    Connection(visitor.connection_id).update(actions=[Connection.connected_at.set(long_ago)])
    world.api.drop(visitor.connection_id)  # its network went, and no $disconnect came
    agent_says(world, agent, chat, "anyone there?")
    assert Connection.count(visitor.connection_id) == 0
    assert visitor.connection_id not in Conversation.get(chat).subscribers.as_dict()
    assert not world.sender.exists(visitor.connection_id)
