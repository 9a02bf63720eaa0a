"""Starting, viewing and assigning conversations on moto, including the races."""
import threading

import pytest

from chalicelib.chat import assignment, conversations, intake
from chalicelib.errors import BadRequestError, CapacityError, ConflictError, NotFoundError
from chalicelib.store.models import Agent, Conversation, Visitor


def test_start_returns_the_active_conversation_until_it_is_closed(world):
    visitor = world.visitor_connection()
    first = intake.start(visitor, {"fields": {"name": "Vera", "email": "v@example.com"}}, world.sender)
    assert intake.start(visitor, {}, world.sender).id == first.id
    assert (first.status, first.visitor_name, first.visitor_email) == ("queued", "Vera", "v@example.com")
    Conversation(first.id).update(actions=[Conversation.status.set("closed")])
    second = intake.start(visitor, {}, world.sender)
    assert second.id != first.id and Visitor.get(visitor.id).active_conversation_id == second.id


def test_two_tabs_starting_at_once_share_one_conversation(world):
    session = world.visitor_session()
    tabs = [world.visitor_connection(session) for _ in range(4)]
    ids, errors = [], []

    def start(tab):
        try:
            ids.append(intake.start(tab, {}, world.sender).id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(tab,)) for tab in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1
    assert set(Conversation.get(ids[0]).subscribers.as_dict()) == {t.connection_id for t in tabs}


def test_new_conversations_reach_the_inbox_of_the_workspace_agents_only(world):
    mine = world.agent_connection(world.agent("ws_a"))
    other = world.agent_connection(world.agent("ws_b"))
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    assert [f["conversation"]["id"] for f in world.api.of(mine.connection_id, "inbox")] == [conversation.id]
    assert world.api.of(other.connection_id, "inbox") == []


def test_accept_takes_a_slot_and_refuses_past_capacity(world):
    agent_id = world.agent(capacity=2)
    agent = world.agent_connection(agent_id)
    waiting = [intake.start(world.visitor_connection(), {}, world.sender) for _ in range(3)]
    for conversation in waiting[:2]:
        accepted = assignment.accept(agent, conversation.id, world.sender)
        assert (accepted.status, accepted.assignee_id) == ("open", agent_id)
    with pytest.raises(CapacityError):
        assignment.accept(agent, waiting[2].id, world.sender)
    assert Agent.get(agent_id).active_chats == 2
    assert Conversation.get(waiting[2].id).status == "queued"
    assignment.set_status(agent, waiting[0].id, "solved", world.sender)  # frees a slot
    assert Agent.get(agent_id).active_chats == 1
    assignment.accept(agent, waiting[2].id, world.sender)
    assert Agent.get(agent_id).active_chats == 2


def test_two_agents_accepting_at_once_one_wins_the_other_gets_conflict(world):
    agents = [world.agent_connection(world.agent()) for _ in range(2)]
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    results = []
    barrier = threading.Barrier(2)

    def accept(agent):
        barrier.wait()
        try:
            results.append(("ok", assignment.accept(agent, conversation.id, world.sender).assignee_id))
        except ConflictError:
            results.append(("conflict", agent.id))

    threads = [threading.Thread(target=accept, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r[0] == "ok"]
    assert len(winners) == 1 and [r[0] for r in results].count("conflict") == 1
    assert Conversation.get(conversation.id).assignee_id == winners[0][1]
    assert sum(Agent.get(a.id).active_chats for a in agents) == 1


def test_capacity_holds_when_many_conversations_are_accepted_at_once(world):
    agent_id = world.agent(capacity=3)
    agent = world.agent_connection(agent_id)
    waiting = [intake.start(world.visitor_connection(), {}, world.sender) for _ in range(8)]
    outcomes = []

    def accept(conversation):
        try:
            assignment.accept(agent, conversation.id, world.sender)
            outcomes.append("ok")
        except (CapacityError, ConflictError) as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=accept, args=(c,)) for c in waiting]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 3 and Agent.get(agent_id).active_chats == 3
    assigned = [c for c in waiting if Conversation.get(c.id).assignee_id == agent_id]
    assert len(assigned) == 3


def test_transfer_moves_the_slot_and_refuses_an_agent_of_another_workspace(world):
    a_id, b_id, foreign_id = world.agent(), world.agent(), world.agent("ws_b")
    a = world.agent_connection(a_id)
    conversation = assignment.accept(a, intake.start(world.visitor_connection(), {}, world.sender).id,
                                        world.sender)
    moved = assignment.assign(a, conversation, b_id, "open", world.sender)
    assert moved.assignee_id == b_id
    assert (Agent.get(a_id).active_chats, Agent.get(b_id).active_chats) == (0, 1)
    with pytest.raises(NotFoundError):
        assignment.assign(a, moved, foreign_id, "open", world.sender)
    with pytest.raises(NotFoundError):
        assignment.assign(a, moved, "agent-that-does-not-exist", "solved", world.sender)


def test_a_refused_patch_changes_nothing_and_closed_conversations_stay_closed(world):
    agent = world.agent_connection(world.agent())
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    with pytest.raises(NotFoundError):
        assignment.patch(agent, conversation.id, {"title": "Kept?", "assignee_id": "ghost"}, world.sender)
    assert Conversation.get(conversation.id).title is None
    Conversation(conversation.id).update(actions=[Conversation.status.set("closed")])
    with pytest.raises(ConflictError):
        assignment.patch(agent, conversation.id, {"assignee_id": agent.id}, world.sender)
    assert Conversation.get(conversation.id).status == "closed"


def test_reopening_a_solved_conversation_clears_its_solve(world):
    agent = world.agent_connection(world.agent())
    conversation = assignment.accept(agent, intake.start(world.visitor_connection(), {},
                                                                   world.sender).id, world.sender)
    assignment.set_status(agent, conversation.id, "solved", world.sender)
    assert Conversation.get(conversation.id).solved_at
    assignment.set_status(agent, conversation.id, "open", world.sender)
    reopened = Conversation.get(conversation.id)
    assert (reopened.status, reopened.solved_at, reopened.auto_solved) == ("open", None, None)


def test_a_site_with_a_prechat_form_needs_its_required_fields_first(world):
    from chalicelib.core.clock import iso
    from chalicelib.store.models import Site, SiteSettings
    Site("site-form", workspace_id="ws_a", name="Form", settings=SiteSettings(prechat_enabled=True),
         created_at=iso()).save()
    visitor = world.visitor_connection(site_key="site-form")
    with pytest.raises(BadRequestError) as info:
        intake.start(visitor, {"fields": {"name": "Vera"}}, world.sender)
    assert info.value.field == "email"
    started = intake.start(visitor, {"fields": {"email": "vera@example.com"}}, world.sender)
    assert (started.visitor_name, started.visitor_email) == ("Vera", "vera@example.com")


def test_views_list_newest_activity_first_with_cursors(world):
    agent_id = world.agent(capacity=10)
    agent = world.agent_connection(agent_id)
    started = [intake.start(world.visitor_connection(), {}, world.sender) for _ in range(5)]
    assignment.accept(agent, started[1].id, world.sender)

    def ids(view, limit=2):
        out, cursor = [], None
        while True:
            page = conversations.list_view(agent, view, limit, cursor)
            out += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    assert ids("unassigned") == [c.id for c in reversed(started) if c.id != started[1].id]
    assert ids("mine") == [started[1].id] and ids("open") == [started[1].id]
    assert ids("all") == [c.id for c in reversed(started)]
    from chalicelib.chat import messaging
    messaging.send_message(agent, started[0].id, "hello", client_msg_id=None, internal=False, sender=world.sender)
    assert ids("all")[0] == started[0].id  # a message is activity; an accept is not
    foreign = world.agent_connection(world.agent("ws_b"))
    assert conversations.list_view(foreign, "all", 50, None)["items"] == []


def test_a_cursor_of_another_view_or_workspace_is_refused(world):
    agent = world.agent_connection(world.agent())
    for _ in range(3):
        intake.start(world.visitor_connection(), {}, world.sender)
    cursor = conversations.list_view(agent, "all", 1, None)["next_cursor"]
    foreign = world.agent_connection(world.agent("ws_b"))
    for bad in (cursor[:-3], "not-base64!", "e30"):
        with pytest.raises(BadRequestError):
            conversations.list_view(agent, "all", 1, bad)
    with pytest.raises(BadRequestError):
        conversations.list_view(foreign, "all", 1, cursor)
    with pytest.raises(BadRequestError):
        conversations.list_view(agent, "unassigned", 1, cursor)


def test_patch_edits_title_tags_and_status(world):
    agent = world.agent_connection(world.agent())
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    patched = assignment.patch(agent, conversation.id, {"title": "Refund", "tags": ["Billing"],
                                                           "status": "open"}, world.sender)
    assert (patched.title, list(patched.tags), patched.status, patched.assignee_id) == (
        "Refund", ["billing"], "open", agent.id)
    with pytest.raises(BadRequestError) as info:
        assignment.patch(agent, conversation.id, {"colour": "red"}, world.sender)
    assert info.value.field == "colour"
    with pytest.raises(NotFoundError):
        assignment.patch(world.agent_connection(world.agent("ws_b")), conversation.id, {"title": "x"},
                            world.sender)


def test_two_agents_adding_tags_at_once_keep_both(world):
    """Issue 13, defect 2: each add is applied to the list as it is now, so neither overwrites the other."""
    first, second = world.agent_connection(world.agent()), world.agent_connection(world.agent())
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    assignment.patch(first, conversation.id, {"tags": ["vip"]}, world.sender)
    start, errors = threading.Barrier(8), []

    def tag(agent, name):
        try:
            start.wait()
            assignment.patch(agent, conversation.id, {"add_tags": [name]}, world.sender)
        except Exception as exc:  # a thread's failure must fail the test
            errors.append(exc)

    names = [f"tag-{i}" for i in range(8)]
    threads = [threading.Thread(target=tag, args=(first if i % 2 else second, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(Conversation.get(conversation.id).tags) == sorted(["vip", *names])


def test_tags_are_added_and_removed_by_name_and_checked_first(world):
    agent = world.agent_connection(world.agent())
    conversation = intake.start(world.visitor_connection(), {}, world.sender)
    patched = assignment.patch(agent, conversation.id, {"add_tags": ["Refund", "urgent"]}, world.sender)
    assert list(patched.tags) == ["refund", "urgent"]
    patched = assignment.patch(agent, conversation.id, {"add_tags": ["later"], "remove_tags": ["refund"]},
                               world.sender)
    assert list(patched.tags) == ["urgent", "later"]
    with pytest.raises(BadRequestError) as info:
        assignment.patch(agent, conversation.id, {"tags": ["a"], "add_tags": ["b"]}, world.sender)
    assert info.value.field == "tags"
    with pytest.raises(BadRequestError) as info:
        assignment.patch(agent, conversation.id, {"add_tags": [f"t{i}" for i in range(19)], "title": "kept?"},
                         world.sender)
    assert info.value.field == "add_tags" and Conversation.get(conversation.id).title is None  # nothing written
