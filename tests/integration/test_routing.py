"""Routing on moto: who gets a queued conversation, the queue and its events, presence, transfers."""
import json
import threading

from chalicelib import bootstrap
from chalicelib.chat import assignment, availability, conversations, lifecycle, routing
from chalicelib.config import settings
from chalicelib.edges import ws
from chalicelib.store.models import Agent, Conversation, Site, Visitor


def new_chat(world, site_key="site-a", session=None):
    visitor = world.visitor_connection(session, site_key=site_key)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": "Hello"}),
                    world.sender)
    acks = world.api.of(visitor.connection_id, "ack")
    assert acks, f"start was not acknowledged: {world.api.of(visitor.connection_id, 'error')}"
    return visitor, acks[-1]["conversation"]["id"]


def test_a_new_conversation_goes_to_the_least_busy_online_agent(world):
    busy = world.online_agent(capacity=3)
    idle = world.online_agent(capacity=3)
    world.agent("ws_a")  # offline: never chosen
    _, first = new_chat(world)
    assert Conversation.get(first).assignee_id in (busy.id, idle.id)
    _, second = new_chat(world)
    owners = {Conversation.get(first).assignee_id, Conversation.get(second).assignee_id}
    assert owners == {busy.id, idle.id}  # one each: the fewest open chats first


def test_ties_go_to_the_agent_assigned_longest_ago(world):
    a, b = world.online_agent(), world.online_agent()
    _, c1 = new_chat(world)
    first = Conversation.get(c1).assignee_id
    _, c2 = new_chat(world)
    assignment.set_status(a if first == a.id else b, c1, "solved", world.sender)
    _, c3 = new_chat(world)
    # both hold one chat again after the solve; the one assigned longest ago is `first`
    assert Conversation.get(c3).assignee_id == first


def test_with_nobody_free_the_visitor_waits_with_a_position_and_the_queue_drains_on_a_free_slot(world):
    agent = world.online_agent(capacity=1)
    _, held = new_chat(world)
    waiting = [new_chat(world) for _ in range(2)]
    assert Conversation.get(held).assignee_id == agent.id
    assert [Conversation.get(c).status for _, c in waiting] == ["queued", "queued"]
    positions = [world.api.of(v.connection_id, "queue")[-1]["position"] for v, _ in waiting]
    assert positions == [1, 2]
    assert all(world.api.of(v.connection_id, "queue")[-1]["eta_seconds"] > 0 for v, _ in waiting)

    ws.handle_frame(agent.connection_id, json.dumps({"action": "set_status", "conversation_id": held,
                                                      "status": "solved", "ref": "x"}), world.sender)

    (first_visitor, first), (second_visitor, second) = waiting
    assert Conversation.get(first).assignee_id == agent.id  # the longest waiting, at once
    assert Conversation.get(second).status == "queued"
    assert world.api.of(second_visitor.connection_id, "queue")[-1]["position"] == 1


def test_an_agent_coming_online_drains_the_queue(world):
    _, waiting = new_chat(world)
    assert Conversation.get(waiting).status == "queued"
    agent = world.online_agent()
    assert Conversation.get(waiting).assignee_id == agent.id
    assert Agent.get(agent.id).active_chats == 1


def test_capacity_holds_when_many_conversations_arrive_together(world):
    agents = [world.online_agent(capacity=2) for _ in range(2)]
    sessions = [world.visitor_session() for _ in range(7)]
    errors = []

    def arrive(session):
        try:
            new_chat(world, session=session)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    loads = [Agent.get(a.id).active_chats for a in agents]
    assert loads == [2, 2]
    conversations_by_status = {}
    for s in sessions:
        c = Conversation.get(Visitor.get(s["visitor_id"]).active_conversation_id)
        conversations_by_status.setdefault(c.status, []).append(c.assignee_id)
    assert len(conversations_by_status["open"]) == 4 and len(conversations_by_status["queued"]) == 3
    assert sorted(conversations_by_status["open"]) == sorted([a.id for a in agents] * 2)


def test_groups_route_to_their_agents_and_a_transfer_to_a_group_queues_it_there(world):
    receptionist = world.online_agent(groups=[])
    technician = world.online_agent(groups=["tech"])
    Agent(technician.id).update(actions=[Agent.active_chats.set(0)])
    _, chat = new_chat(world)
    owner = Conversation.get(chat).assignee_id
    holder = receptionist if owner == receptionist.id else technician
    ws.handle_frame(holder.connection_id, json.dumps({"action": "transfer", "conversation_id": chat,
                                                       "to_group": "tech", "note": "billing API error",
                                                       "ref": "t"}), world.sender)
    moved = Conversation.get(chat)
    assert (moved.group, moved.assignee_id, moved.status) == ("tech", technician.id, "open")
    texts = [m["message"]["text"] for m in world.api.of(technician.connection_id, "message")]
    # The visitor reads the transfer too: never the internal group name, which the site has not labelled.
    assert any(t.endswith("transferred this conversation to another team.") for t in texts), texts
    assert not any("tech" in t for t in texts if "transferred" in t)
    assert "billing API error" in texts  # the note reaches agents


def test_a_transfer_names_the_team_as_the_site_labels_it_in_the_visitors_language(world):
    Site(site_key="site-a").update(actions=[Site.settings.texts.set(
        {"fr": {"teams": {"tech": "notre équipe technique"}}, "en": {"teams": {"tech": "our technical team"}}})])
    receptionist = world.online_agent(groups=[], name="Rita")
    world.online_agent(groups=["tech"], capacity=0)  # the team exists; nobody of it is free
    told = {}
    for locale in ("fr-FR", "en-GB"):
        session = world.visitor_session(locale=locale)
        visitor, chat = new_chat(world, session=session)
        assert Conversation.get(chat).assignee_id == receptionist.id
        ws.handle_frame(receptionist.connection_id, json.dumps(
            {"action": "transfer", "conversation_id": chat, "to_group": "tech", "ref": "t"}), world.sender)
        told[locale] = [f["message"] for f in world.api.of(visitor.connection_id, "message")
                        if f["message"].get("notice") == "transferred"]
    assert [m["text"] for m in told["fr-FR"]] == ["Rita a transféré cette conversation à notre équipe technique."]
    assert [m["text"] for m in told["en-GB"]] == ["Rita transferred this conversation to our technical team."]
    joined = [f["message"]["text"] for f in world.api.of(receptionist.connection_id, "message")
              if f["message"].get("notice") == "joined"]
    assert "Rita a rejoint la conversation." in joined and "Rita joined the conversation." in joined


def test_a_returning_visitor_gets_the_agent_who_helped_last(world):
    a, b = world.online_agent(), world.online_agent()
    session = world.visitor_session()
    _, first = new_chat(world, session=session)
    helper = Conversation.get(first).assignee_id
    other = b if helper == a.id else a
    Conversation(first).update(actions=[Conversation.status.set("closed")])
    Agent(helper).update(actions=[Agent.active_chats.set(0)])
    # The other agent is now less recently assigned; the returning visitor still gets `helper`.
    Agent(other.id).update(actions=[Agent.last_assigned_at.set("2000-01-01T00:00:00.000Z")])
    _, second = new_chat(world, session=session)
    assert Conversation.get(second).assignee_id == helper


def test_an_agent_who_left_goes_offline_then_their_chats_return_to_the_queue(world, monkeypatch):
    leaving = world.online_agent()
    _, chat = new_chat(world)
    assert Conversation.get(chat).assignee_id == leaving.id
    lifecycle.disconnect(leaving.connection_id)
    clock = [routing.now()]
    bootstrap.configure(sender=world.sender, now=lambda: clock[0])  # every module reads this clock

    clock[0] += settings.presence_grace + 1
    report = routing.sweep(world.sender)
    assert report["offline"] == 1 and Agent.get(leaving.id).status == "offline"
    assert Conversation.get(chat).assignee_id == leaving.id  # still theirs for a while

    stays = world.online_agent()
    clock[0] += settings.requeue_grace
    report = routing.sweep(world.sender)
    assert report["requeued"] == 1
    assert Conversation.get(chat).assignee_id == stays.id  # back in the queue, drained at once
    assert Agent.get(leaving.id).active_chats == 0


def test_a_stale_connection_never_keeps_an_agent_online(world, monkeypatch):
    agent = world.online_agent()
    world.api.drop(agent.connection_id)  # API Gateway forgot it; no $disconnect came
    assert routing.sweep(world.sender)["stale_connections"] == 0  # too young to judge: maybe still connecting
    later = routing.now() + routing.SETTLING_SECONDS + 1
    bootstrap.configure(sender=world.sender, now=lambda: later)  # every module reads this clock
    report = routing.sweep(world.sender)
    assert report["stale_connections"] == 1
    assert not availability.is_available(Agent.get(agent.id))


def test_a_reload_within_the_grace_keeps_the_agent_and_their_chats(world):
    agent = world.online_agent()
    _, chat = new_chat(world)
    lifecycle.disconnect(agent.connection_id)
    world.agent_connection(agent.id)
    report = routing.sweep(world.sender)
    assert report == {"offline": 0, "requeued": 0, "stale_connections": 0}
    assert availability.is_available(Agent.get(agent.id)) and Conversation.get(chat).assignee_id == agent.id


def test_the_inbox_hears_of_a_new_chat_with_its_first_message(world):
    agent = world.agent_connection(world.agent())
    _, chat = new_chat(world)
    (inbox,) = [f for f in world.api.of(agent.connection_id, "inbox") if f["conversation"]["id"] == chat]
    assert inbox["conversation"]["last_seq"] == 1
    assert inbox["conversation"]["last_message"]["text"] == "Hello"


def test_notes_never_become_the_last_message_a_list_shows(world):
    agent = world.online_agent()
    visitor, chat = new_chat(world)
    ws.handle_frame(agent.connection_id, json.dumps({"action": "send", "conversation_id": chat, "ref": "n",
                                                      "text": "secret note", "internal": True}), world.sender)
    assert Conversation.get(chat).last_message.as_dict()["text"] == "Hello"
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "history", "conversation_id": chat,
                                                        "ref": "h"}), world.sender)
    assert "secret note" not in json.dumps(world.api.of(visitor.connection_id))


def test_a_transfer_note_comes_back_in_the_ack_and_leave_stops_events(world):
    a, b = world.online_agent(), world.online_agent()
    _, chat = new_chat(world)
    holder = a if Conversation.get(chat).assignee_id == a.id else b
    other = b if holder is a else a
    ws.handle_frame(holder.connection_id, json.dumps({"action": "transfer", "conversation_id": chat, "ref": "t",
                                                       "to_agent_id": other.id, "note": "over to you"}),
                    world.sender)
    ack = world.api.of(holder.connection_id, "ack")[-1]
    assert ack["note"]["text"] == "over to you" and ack["note"]["internal"] is True
    ws.handle_frame(holder.connection_id, json.dumps({"action": "leave", "conversation_id": chat, "ref": "l"}),
                    world.sender)
    assert holder.connection_id not in Conversation.get(chat).subscribers.as_dict()


def test_counts_per_view(world):
    agent = world.online_agent(capacity=1)
    new_chat(world)
    new_chat(world)
    counts = conversations.counts(agent)
    assert (counts["mine"], counts["open"], counts["unassigned"], counts["all"]) == (1, 1, 1, 2)


def test_coming_back_away_after_offline_cancels_the_requeue(world, monkeypatch):
    agent = world.online_agent()
    _, chat = new_chat(world)
    routing.set_presence(agent.id, "offline", world.sender)
    routing.set_presence(agent.id, "away", world.sender)
    clock = [routing.now() + settings.presence_grace + settings.requeue_grace + 5]
    bootstrap.configure(sender=world.sender, now=lambda: clock[0])  # every module reads this clock
    assert routing.sweep(world.sender) == {"offline": 0, "requeued": 0, "stale_connections": 0}
    assert Agent.get(agent.id).status == "away" and Conversation.get(chat).assignee_id == agent.id


def test_availability_does_not_count_an_agent_whose_sockets_closed(world):
    from chalicelib.chat import sites
    agent = world.online_agent()
    assert sites.availability("site-a")["agents_online"] == 1
    lifecycle.disconnect(agent.connection_id)
    assert sites.availability("site-a") == {"online": False, "agents_online": 0, "agents_away": 0,
                                            "eta_seconds": None, "agents": [], "open_now": True, "opens_at": None, "greeting": "Hi! How can we help? Nobody is online right now: leave a message and we will answer by email."}


def test_availability_counts_agents_away_who_take_chats_by_hand(world):
    from chalicelib.chat import sites
    agent = world.online_agent()
    routing.set_presence(agent.id, "away", world.sender)
    assert sites.availability("site-a") == {"online": False, "agents_online": 0, "agents_away": 1,
                                            "eta_seconds": None, "agents": [], "open_now": True, "opens_at": None, "greeting": "Hi! How can we help? Nobody is online right now: leave a message and we will answer by email."}
    lifecycle.disconnect(agent.connection_id)  # gone: not away, absent
    assert sites.availability("site-a")["agents_away"] == 0


def test_a_transfer_to_a_group_is_case_insensitive(world):
    a = world.online_agent()
    tech = world.online_agent(groups=["tech"])
    Agent(tech.id).update(actions=[Agent.active_chats.set(3)])  # busy for now
    _, chat = new_chat(world)
    holder = a if Conversation.get(chat).assignee_id == a.id else tech
    ws.handle_frame(holder.connection_id, json.dumps({"action": "transfer", "conversation_id": chat, "ref": "t",
                                                       "to_group": "Tech"}), world.sender)
    assert Conversation.get(chat).group == "tech"
