"""Input checks name the field at fault."""
import pytest

from chalicelib import validate
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
