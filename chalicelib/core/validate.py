"""Checks of client input. Each failure is a BadRequestError naming the field."""
import json
import re
from typing import Any

from chalicelib.errors import BadRequestError

MAX_TEXT = 4000
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[^@\s<>\"'.]{1,63}$")


# --- text and JSON as they arrive (docs/protocol.md §1) --------------------------------------
# Every string a client sends, at any depth, keys included, must be storable text: JSON's \u
# escapes can spell a lone UTF-16 surrogate, which no UTF-8 encoder (DynamoDB's, the sender's)
# accepts, and NUL breaks the systems text is handed on to. Nesting is bounded because Python's
# json recurses: a frame 1,000 levels deep raises RecursionError, not ValueError.

MAX_DEPTH = 16
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
# A JSON string token (skipped whole, so brackets inside strings do not count) or one bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_COLON = re.compile(r"\s*:\s*")


def is_text(value: str) -> bool:
    """Whether a string is Unicode scalar values without NUL, i.e. encodable and storable."""
    return _NOT_TEXT.search(value) is None


def text_error(field: str) -> BadRequestError:
    """The one wording of the rule, for whichever field broke it."""
    return BadRequestError(f"{field} must be valid text (no NUL, no lone UTF-16 surrogate)", field=field)


def too_deep(raw: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without parsing it."""
    if raw.count("[") + raw.count("{") <= limit:  # nearly every frame and body: decided at C speed
        return False
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif mark in ("]", "}"):
            depth -= 1
    return False


def top_level_scalar(raw: str, key: str):
    """A top-level member's string or number read from JSON text that cannot be parsed whole (a
    frame too deep to parse still gets its `ref` back); None when there is none."""
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
        elif mark in ("]", "}"):
            depth -= 1
        elif depth == 1 and (colon := _COLON.match(raw, token.end())):
            start = colon.end()
            if raw[start:start + 1] in ("[", "{", ""):
                continue
            try:
                if json.loads(mark) == key:
                    return json.JSONDecoder().raw_decode(raw, start)[0]
            except ValueError:
                return None
    return None


def check_text(value: Any, root: str) -> None:
    """Every string of parsed JSON, keys included, is valid text; else bad_request naming its
    dotted path (`fields.name`, `tags.2`), or `root` for the document itself."""
    _check_text(value, "", root)


def _check_text(value: Any, path: str, root: str) -> None:
    if isinstance(value, str):
        if not is_text(value):
            raise text_error(path or root)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not is_text(key):  # the key cannot be named in an answer: its container is
                raise BadRequestError(f"{path or root} has a key that is not valid text (no NUL, no lone "
                                      "UTF-16 surrogate)", field=path or root)
            _check_text(item, f"{path}.{key}" if path else key, root)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}.{index}" if path else str(index), root)


def known_fields(body: dict, allowed, what: str = "field") -> None:
    """Refuse the first key a route does not take, naming it (cut short: a key can be 40 KB). An empty
    key names nothing, so the body it is in is named instead, as for a key that is not text."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        name = unknown[0][:60]
        raise BadRequestError(f"unknown {what} {name or '(an empty name)'}", field=name or "body")


def obj(body: Any, name: str = "body") -> dict:
    if not isinstance(body, dict):
        raise BadRequestError(f"{name} must be a JSON object", field=name)
    return body


def string(data: dict, name: str, *, required: bool = True, max_len: int = 256,
           min_len: int = 1, strip: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadRequestError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string", field=name)
    if not is_text(value):  # query strings and path parameters come here without a JSON parse
        raise text_error(name)
    if strip:
        value = value.strip()
    if len(value) < min_len:
        if not required and not value:
            return None
        raise BadRequestError(f"{name} must not be empty" if min_len <= 1 else
                              f"{name} must be at least {min_len} characters", field=name)
    if len(value) > max_len:
        raise BadRequestError(f"{name} must be at most {max_len} characters", field=name)
    return value


def text(data: dict, name: str = "text") -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadRequestError(f"{name} is required and must be a string", field=name)
    if not is_text(value):
        raise text_error(name)
    value = value.strip()
    if not value:
        raise BadRequestError(f"{name} must not be empty", field=name)
    if len(value) > MAX_TEXT:
        raise BadRequestError(f"{name} must be at most {MAX_TEXT} characters", field=name)
    return value


def integer(data: dict, name: str, *, required: bool = False, minimum: int = 0,
            maximum: int | None = None, default: int | None = None) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadRequestError(f"{name} is required", field=name)
        return default
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(f"{name} must be an integer", field=name)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise BadRequestError(f"{name} must be {bounds}", field=name)
    return value


def choice(data: dict, name: str, allowed: tuple[str, ...], *, required: bool = True,
           default: str | None = None) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadRequestError(f"{name} is required (one of {', '.join(allowed)})", field=name)
        return default
    if value not in allowed:
        raise BadRequestError(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def boolean(data: dict, name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise BadRequestError(f"{name} must be true or false", field=name)
    return value


def email(data: dict, name: str = "email", *, required: bool = False) -> str | None:
    value = string(data, name, required=required, max_len=320)
    if value is not None and not _EMAIL.match(value):
        raise BadRequestError(f"{name} is not a valid email address", field=name)
    return value.lower() if value else value


def tags(data: dict, name: str = "tags") -> list[str]:
    """Short labels, trimmed, lowercased and deduplicated."""
    value = data.get(name)
    if not isinstance(value, list) or len(value) > 20:
        raise BadRequestError(f"{name} must be a list of at most 20 strings", field=name)
    out: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 40:
            raise BadRequestError(f"each of {name} must be a string of 1 to 40 characters", field=name)
        tag = tag.strip().lower()
        if tag not in out:
            out.append(tag)
    return out


_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def group(data: dict, name: str, *, required: bool = True) -> str | None:
    """A group (skill) name: lowercase letters, digits, - and _, as agents' groups are stored."""
    value = string(data, name, required=required, max_len=40)
    if value is None:
        return None
    value = value.lower()
    if not _GROUP.match(value):
        raise BadRequestError(f"{name} must be 1-40 of a-z, 0-9, - and _", field=name)
    return value
