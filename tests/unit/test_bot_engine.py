"""The bot's pure parts (chalicelib/bot/schema.py, engine.py): a flow checked with every problem named by
node and field, and the engine's turns from the flow, the state and what the visitor did."""
import copy

import pytest

from chalicelib.bot import engine, schema

FLOW = {
    "start": "hello", "max_turns": 3, "human_group": "support",
    "nodes": {
        "hello": {"kind": "message", "text": {"en": "Hello.", "fr": "Bonjour."}, "next": "route"},
        "route": {"kind": "branch", "on": "page_url", "cases": [{"contains": "/pro/", "next": "pro"}],
                  "default": "menu"},
        "pro": {"kind": "handoff", "group": "sales", "text": {"en": "Our sales team is coming."}},
        "menu": {"kind": "options", "text": {"en": "Pick one.", "fr": "Choisissez."},
                 "options": [{"id": "mail", "label": {"en": "Contact me", "fr": "Contactez-moi"}, "next": "ask"},
                             {"id": "faq", "label": {"en": "Delivery"}, "next": "faq"}]},
        "ask": {"kind": "ask", "next": "done",
                "fields": [{"name": "email", "type": "email", "label": {"en": "Your email?"}},
                           {"name": "phone", "type": "phone", "required": False, "label": {"en": "Your phone?"}}]},
        "done": {"kind": "message", "text": {"en": "We will write to {email}."}, "end": True},
        "faq": {"kind": "articles", "text": {"en": "Read this:"}, "solved": "done", "unsolved": "pro"},
    },
}
ARTICLE = {"id": "a_1", "title": "Shipping times", "snippet": "We ship in 2 days."}


def flow() -> dict:
    checked, problems = schema.check(copy.deepcopy(FLOW))
    assert problems == []
    return checked


def ctx(**kw) -> engine.Context:
    return engine.Context(**{"search": lambda words: [ARTICLE] if "deliver" in words.lower() else [], **kw})


def texts(turn: engine.Turn) -> list[str]:
    return [r["text"] for r in turn.replies]


# --- the schema ---------------------------------------------------------------------------------

def test_a_valid_flow_is_stored_with_its_defaults_and_plain_strings_as_english():
    doc = copy.deepcopy(FLOW)
    doc["nodes"]["hello"]["text"] = "Hello."
    checked, problems = schema.check(doc)
    assert problems == [] and checked["enabled"] is True and checked["nodes"]["hello"]["text"] == {"en": "Hello."}
    assert checked["nodes"]["ask"]["fields"][0]["required"] is True  # required unless said otherwise


@pytest.mark.parametrize("breaking, field", [
    (lambda d: d.update(start="nowhere"), "start"),
    (lambda d: d["nodes"]["menu"]["options"][0].update(next="gone"), "nodes.menu.options[0].next"),
    (lambda d: d["nodes"]["menu"]["options"][0].update(id="human"), "nodes.menu.options[0].id"),
    (lambda d: d["nodes"]["menu"]["options"].append(dict(d["nodes"]["menu"]["options"][0])),
     "nodes.menu.options[2].id"),
    (lambda d: d["nodes"]["hello"].update(kind="robot"), "nodes.hello.kind"),
    (lambda d: d["nodes"]["hello"]["text"].pop("en"), "nodes.hello.text.en"),
    (lambda d: d["nodes"]["hello"]["text"].update(de="Hallo"), "nodes.hello.text.de"),
    (lambda d: d["nodes"]["ask"]["fields"][0].update(pattern="(["), "nodes.ask.fields[0].pattern"),
    (lambda d: d["nodes"]["ask"]["fields"][0].update(type="date"), "nodes.ask.fields[0].type"),
    (lambda d: d["nodes"].update(lookup={"kind": "lookup", "url": "http://169.254.169.254/", "fields": [],
                                         "template": {"en": "x"}, "next": "menu", "fallback": "pro"}),
     "nodes.lookup.url"),
    (lambda d: d["nodes"]["route"].update(cases=[]), "nodes.route.cases"),
    (lambda d: d.update(max_turns=0), "max_turns"),
    (lambda d: d["nodes"].update({"Bad Id": {"kind": "message", "text": "x", "end": True}}), "nodes.Bad Id"),
])
def test_each_problem_names_its_node_and_field(breaking, field):
    doc = copy.deepcopy(FLOW)
    breaking(doc)
    _, problems = schema.check(doc)
    assert field in [p["field"] for p in problems], problems


def test_every_problem_is_listed_not_only_the_first():
    doc = copy.deepcopy(FLOW)
    doc["start"] = "nowhere"
    doc["nodes"]["faq"]["unsolved"] = "gone"
    _, problems = schema.check(doc)
    assert {"start", "nodes.faq.unsolved"} <= {p["field"] for p in problems}


# --- the engine ---------------------------------------------------------------------------------

def test_the_opening_runs_to_the_first_question_with_the_way_to_a_person():
    turn = engine.begin(flow(), 1, ctx())
    assert texts(turn) == ["Hello.", "Pick one."]
    assert [o["id"] for o in turn.replies[-1]["options"]] == ["mail", "faq", "human"]
    assert turn.state["wait"] == "options" and turn.state["node"] == "menu"


def test_french_where_written_english_where_not():
    turn = engine.begin(flow(), 1, ctx(locale="fr"))
    assert texts(turn) == ["Bonjour.", "Choisissez."]
    assert [o["label"] for o in turn.replies[-1]["options"]] == ["Contactez-moi", "Delivery", "Parler à une personne"]


def test_a_branch_on_the_page_hands_off_to_its_group():
    turn = engine.begin(flow(), 1, ctx(page_url="https://shop.example/pro/plans"))
    assert turn.handoff and turn.group == "sales" and turn.reason == "flow"


def test_fields_are_checked_retried_skipped_and_filled_into_texts():
    f = flow()
    turn = engine.answer(f, engine.begin(f, 1, ctx()).state, ctx(), option="mail")
    assert turn.replies[-1]["ask"] == {"field": "email", "type": "email", "required": True}
    bad = engine.answer(f, turn.state, ctx(), words="not an email")
    assert texts(bad) == ["That does not look right; please try again.", "Your email?"] and not bad.fields
    good = engine.answer(f, bad.state, ctx(), words="Dana@Example.com")
    assert good.fields == {"email": "dana@example.com"} and [o["id"] for o in good.replies[-1]["options"]] == ["skip"]
    with pytest.raises(engine.NoSuchOption):
        engine.answer(f, turn.state, ctx(), option="skip")  # the email is required
    skipped = engine.answer(f, good.state, ctx(fields=good.fields), option="skip")
    assert texts(skipped) == ["We will write to dana@example.com."]  # a message names what was collected
    assert skipped.state["wait"] == "end"


def test_free_text_at_a_choice_offers_articles_then_the_question_again():
    f = flow()
    state = engine.begin(f, 1, ctx()).state
    offered = engine.answer(f, state, ctx(), words="when will it be delivered")
    assert offered.replies[0]["articles"] == [ARTICLE]
    assert [o["id"] for o in offered.replies[-1]["options"]] == ["yes", "no", "human"]
    again = engine.answer(f, offered.state, ctx(), option="no")
    assert [o["id"] for o in again.replies[-1]["options"]] == ["mail", "faq", "human"]
    confirmed = engine.answer(f, offered.state, ctx(), option="yes")
    assert confirmed.confirmed and not confirmed.handoff


def test_an_articles_node_searches_the_chosen_label_and_falls_to_unsolved_without_a_match():
    f = flow()
    state = engine.begin(f, 1, ctx()).state
    found = engine.answer(f, state, ctx(), option="faq")  # "Delivery" is searched
    assert found.replies[0]["articles"] == [ARTICLE]
    solved = engine.answer(f, found.state, ctx(), option="yes")
    assert solved.confirmed and texts(solved) == ["We will write to {email}."]  # nothing collected: as written
    nothing = engine.answer(f, state, engine.Context(), option="faq")
    assert nothing.handoff and nothing.group == "sales"  # unsolved → the pro handoff


def test_turns_without_progress_hand_off_after_max_turns():
    f = flow()
    state = engine.begin(f, 1, ctx()).state
    for i in range(2):
        turn = engine.answer(f, state, ctx(), words="gibberish")
        assert not turn.handoff, i
        state = turn.state
    last = engine.answer(f, state, ctx(), words="gibberish")
    assert last.handoff and last.reason == "no_progress" and last.group == "support"


def test_talk_to_a_person_and_an_unknown_option():
    f = flow()
    state = engine.begin(f, 1, ctx()).state
    human = engine.answer(f, state, ctx(), option="human")
    assert human.handoff and human.reason == "asked" and human.group == "support"
    with pytest.raises(engine.NoSuchOption):
        engine.answer(f, state, ctx(), option="nope")


def test_a_lookup_renders_its_answer_and_fails_over_on_a_missing_key_or_no_answer():
    node = {"kind": "lookup", "url": "https://shop.example/o", "fields": ["order"],
            "template": {"en": "Order {order}: {status}."}, "next": "end", "fallback": "sorry"}
    f = {"start": "look", "max_turns": 6, "nodes": {
        "look": node, "end": {"kind": "message", "text": {"en": "Bye."}, "end": True},
        "sorry": {"kind": "message", "text": {"en": "Sorry."}, "end": True}}}
    seen = []

    def lookup(n, fields):
        seen.append(fields)
        return {"status": "shipped", "nested": {"x": 1}}
    turn = engine.begin(f, 1, engine.Context(fields={"order": "1234", "other": "x"}, lookup=lookup))
    assert texts(turn) == ["Order 1234: shipped.", "Bye."] and seen == [{"order": "1234"}]
    missing = engine.begin(f, 1, engine.Context(lookup=lambda n, fields: {"state": "?"}))
    assert texts(missing) == ["Sorry."]
    failed = engine.begin(f, 1, engine.Context(lookup=lambda n, fields: None))
    assert texts(failed) == ["Sorry."]


def test_a_loop_of_nodes_that_never_waits_hands_off_as_the_flows_error():
    f = {"start": "a", "nodes": {"a": {"kind": "branch", "on": "locale", "cases": [{"equals": "de", "next": "a"}],
                                       "default": "a"}}}
    turn = engine.begin(f, 1, engine.Context())
    assert turn.handoff and turn.reason == "error"
