"""Input checks name the field at fault."""
import json

import pytest

from chalicelib.core import validate
from chalicelib.errors import BadRequestError


@pytest.mark.parametrize("value, message", [
    (None, "required"), (5, "must be a string"), ("   ", "empty"), ("x" * 4001, "at most 4000"),
])
def test_text_rules(value, message):
    with pytest.raises(BadRequestError, match=message) as info:
        validate.text({"text": value})
    assert info.value.field == "text"


def test_text_is_trimmed_and_4000_characters_fit():
    assert validate.text({"text": "  hi  "}) == "hi"
    assert len(validate.text({"text": "é" * 4000})) == 4000


@pytest.mark.parametrize("value", [0, 101, "ten", True, 1.5])
def test_integer_bounds_and_types(value):
    with pytest.raises(BadRequestError) as info:
        validate.integer({"limit": value}, "limit", minimum=1, maximum=100)
    assert info.value.field == "limit"


def test_integer_accepts_query_strings():
    assert validate.integer({"limit": "25"}, "limit", minimum=1, maximum=100) == 25
    assert validate.integer({}, "limit", default=7) == 7


@pytest.mark.parametrize("value", ["a@b", "no-at.example.com", "<script>@x.com", "a b@c.com"])
def test_email_rejects_invalid_addresses(value):
    with pytest.raises(BadRequestError):
        validate.email({"email": value})


def test_email_is_lowercased():
    assert validate.email({"email": "Vera@Example.COM"}) == "vera@example.com"


def test_tags_are_normalised_and_bounded():
    assert validate.tags({"tags": [" Billing ", "billing", "VIP"]}) == ["billing", "vip"]
    for bad in (["x" * 41], [""], "billing", [1], ["t"] * 21):
        with pytest.raises(BadRequestError):
            validate.tags({"tags": bad})


def test_choice_lists_the_allowed_values():
    with pytest.raises(BadRequestError, match="on, off"):
        validate.choice({"state": "maybe"}, "state", ("on", "off"))


def test_nesting_is_measured_outside_strings_and_a_top_level_ref_is_read_without_parsing():
    from chalicelib.core.validate import MAX_DEPTH, too_deep, top_level_scalar
    assert not too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert too_deep("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert not too_deep(json.dumps({"text": "[{" * 500, "tags": ["a"]}))  # brackets in a string are text
    deep = "[" * 1000 + "]" * 1000
    assert top_level_scalar('{"x": ' + deep + ', "ref": "r-1"}', "ref") == "r-1"
    assert top_level_scalar('{"a": {"ref": "inner"}, "r\\u0065f": 7}', "ref") == 7
    assert top_level_scalar('{"action": "ref", "x": ' + deep + "}", "ref") is None
    assert top_level_scalar('{"ref": ' + deep + "}", "ref") is None


def test_every_string_of_a_document_is_checked_and_the_failure_names_its_path():
    from chalicelib.core.validate import check_text
    check_text({"text": "😀 é \u2028", "fields": {"name": "Zoë"}, "tags": ["a"]}, "body")
    for value, field in (({"fields": {"name": "\udfff"}}, "fields.name"), ({"tags": ["ok", "a\x00"]}, "tags.1"),
                         ({"a": {"\ud800": 1}}, "a"), ({"\ud800": 1}, "body")):
        with pytest.raises(BadRequestError) as info:
            check_text(value, "body")
        assert info.value.field == field
    for check in (lambda: validate.string({"name": "\udfff"}, "name"), lambda: validate.text({"text": "a\x00"}),
                  lambda: validate.email({"email": "a\udfff@example.com"})):
        with pytest.raises(BadRequestError):
            check()


@pytest.mark.parametrize("body, field", [({"title": 1, "colour": 2}, "colour"), ({"": 1}, "body"),
                                         ({"k" * 40_000: 1}, "k" * 60)])
def test_an_unknown_key_is_named_and_an_empty_one_names_the_body(body, field):
    """Found by tests/fuzz: `{"": null}` was a bad_request naming no field at all."""
    with pytest.raises(BadRequestError) as info:
        validate.known_fields(body, {"title"})
    assert info.value.field == field and info.value.to_dict()["field"] == field
    validate.known_fields({"title": 1}, {"title"})  # the keys the route takes pass
