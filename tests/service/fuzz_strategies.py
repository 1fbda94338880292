"""Hypothesis strategies for raw Batch requests built from botocore's input shapes: valid-ish documents
and their mutations (wrong types, missing and unknown members, huge and unicode strings), plus raw bodies
(deep nesting, bad JSON, oversized). Imports only hypothesis, botocore and batchemu.protocol.spec."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

from batchemu.protocol import spec
from batchemu.protocol.parser import MAX_BODY_BYTES

AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/batch/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
HUGE_STRING_MAX = 100_000
# Python's http.server refuses a request line over 64 KiB before batchemu sees it (test_fuzz has a test of
# its own for that), so text bound for the path or query string is cut to fit well under it.
URI_TEXT_MAX = 16 * 1024
DEEP_NESTING = (999, 1000, 1001, 5000)
# Drawn by index, so repeats weight the kinds: most of the budget goes to requests that pass validation
# and reach the handlers, where a crash would hide.
KINDS = (
    "valid",
    "valid",
    "valid",
    "valid",
    "wrong-type",
    "missing-required",
    "unknown-member",
    "huge-string",
    "unicode",
    "deep-nesting",
    "bad-json",
    "oversized",
)
_NASTY_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "🚀🔥👩‍👩‍👧‍👦",
    "\u202eevil\u202c",
    "مرحبا بالعالم",
    "שלום",
    "Z̷̢̛a̴l̸g̶o̵",
    "\ufeffbom",
    "\uffff",
    "\U0010ffff",
    "line\nbreak\r\n\t",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00%2F%25",
    "arn:aws:batch:us-east-1:123456789012:job-queue/",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "ǅǈǋ",
)
_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


@dataclass(frozen=True)
class RawRequest:
    kind: str
    method: str
    path: str
    body: bytes | None

    def describe(self, limit: int = 600) -> str:
        body = b"" if self.body is None else self.body
        shown = body[:limit].decode("utf-8", "backslashreplace")
        more = f"... ({len(body)} bytes)" if len(body) > limit else ""
        return f"[{self.kind}] {self.method} {self._shown_path(limit)}\n{shown}{more}"

    def __repr__(self) -> str:
        """Short, since hypothesis prints the falsifying example with repr(): never a whole 1 MB body."""
        body = "None" if self.body is None else f"<{len(self.body)} bytes: {self.body[:80]!r}...>"
        return f"RawRequest({self.kind!r}, {self.method!r}, {self._shown_path(200)!r}, {body})"

    def _shown_path(self, limit: int) -> str:
        return self.path if len(self.path) <= limit else f"{self.path[:limit]}... ({len(self.path)} chars)"


# -- scalar and text strategies -------------------------------------------------------------------------
def _unicode_text(max_size: int = 40) -> st.SearchStrategy[str]:
    surrogate_free = st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)
    return st.one_of(st.sampled_from(_NASTY_TEXT), surrogate_free)


References = Mapping[str, Sequence[str]]
"""Member name -> names and ARNs of real resources it may refer to ("*": for any other string member)."""


def _string(shape: Shape, references: References, name: str) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", 64), 256)
    plain = st.text(
        st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_:/."),
        min_size=low,
        max_size=max(low, high),
    )
    choices = [plain, st.integers(0, 10**6).map(str)]
    if references.get(name):  # half the time a real resource, so lookups succeed and handlers run on
        choices = [st.sampled_from(list(references[name]))] * 2 + choices
    elif references.get("*"):
        choices.insert(0, st.sampled_from(list(references["*"])))
    return st.one_of(*choices)


def _number(shape: Shape) -> st.SearchStrategy[Any]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if shape.type_name in ("float", "double"):
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    bound = _INT32 if shape.type_name == "integer" else _INT64
    wide = st.integers(-bound - 1 if low is None else low, bound if high is None else high)
    small = st.integers(max(0, low or 0), min(16, high if high is not None else 16))
    beyond = st.sampled_from([-(2**70), 2**70, 10**40])  # ints beyond 64 bits pass the type check
    return st.one_of(small, wide, beyond) if low is None and high is None else st.one_of(small, wide)


# -- documents by shape ---------------------------------------------------------------------------------
def value_for(shape: Shape, references: References, depth: int = 0, name: str = "") -> st.SearchStrategy[Any]:
    """A value that mostly passes validation: enums, min/max and required members respected; `name` is the
    member's (a list's items take the list's name)."""
    kind = shape.type_name
    low = shape.metadata.get("min", 0)
    if kind == "structure":
        members = shape.members
        required = {
            key: value_for(members[key], references, depth + 1, key) for key in shape.required_members
        }
        # Deep down, only required members: botocore's job definition shapes are 13 levels deep.
        optional = {
            key: value_for(member, references, depth + 1, key)
            for key, member in members.items()
            if key not in required and depth < 6
        }
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        high = max(low, min(shape.metadata.get("max", 3), 3))
        return st.lists(value_for(shape.member, references, depth + 1, name), min_size=low, max_size=high)
    if kind == "map":
        high = max(low, min(shape.metadata.get("max", 3), 3))
        keys = _string(shape.key, references, "")
        return st.dictionaries(
            keys, value_for(shape.value, references, depth + 1), min_size=low, max_size=high
        )
    if kind == "string":
        return _string(shape, references, name)
    if kind in ("integer", "long", "float", "double"):
        return _number(shape)
    if kind == "boolean":
        return st.booleans()
    return st.text(max_size=20)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
_WRONG_FOR = {
    "structure": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
    "map": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=2)),
    "list": st.one_of(
        st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers())
    ),
    "string": st.one_of(
        st.integers(), st.booleans(), st.floats(allow_nan=False), st.lists(st.text(max_size=3))
    ),
    "boolean": st.one_of(st.integers(), st.sampled_from(["true", "false", "1"]), st.just([])),
    "integer": st.one_of(st.text(max_size=5), st.booleans(), st.floats(allow_nan=False), st.just({})),
    "long": st.one_of(st.text(max_size=5), st.booleans(), st.just(1.5), st.just({})),
    "float": st.one_of(st.text(max_size=5), st.booleans(), st.just([1.0])),
    "double": st.one_of(st.text(max_size=5), st.booleans(), st.just([1.0])),
}


@dataclass
class _Slot:
    """Where a value sits in a document: container[key], of shape `shape` (None for the document root)."""

    container: Any
    key: Any
    shape: Shape


def _slots(document: Any, shape: Shape) -> list[_Slot]:
    found: list[_Slot] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(document, dict):
        for name, member in shape.members.items():
            if name in document:
                found.append(_Slot(document, name, member))
                found.extend(_slots(document[name], member))
    elif kind == "list" and isinstance(document, list):
        for index, item in enumerate(document):
            found.append(_Slot(document, index, shape.member))
            found.extend(_slots(item, shape.member))
    elif kind == "map" and isinstance(document, dict):
        for key, item in document.items():
            found.append(_Slot(document, key, shape.value))
            found.extend(_slots(item, shape.value))
    return found


def _structures(document: Any, shape: Shape) -> list[tuple[dict[str, Any], Shape]]:
    found = [(document, shape)] if shape.type_name == "structure" and isinstance(document, dict) else []
    return found + [
        (slot.container[slot.key], slot.shape)
        for slot in _slots(document, shape)
        if slot.shape.type_name == "structure" and isinstance(slot.container[slot.key], dict)
    ]


# -- one request ---------------------------------------------------------------------------------------
def _mutate(draw: Any, kind: str, document: dict[str, Any], shape: Shape) -> None:
    slots = _slots(document, shape)
    if kind == "wrong-type":
        if not slots:
            document["__root__"] = draw(_ANY_JSON)  # no members: an unknown one instead
            return
        slot = draw(st.sampled_from(slots))
        slot.container[slot.key] = draw(_WRONG_FOR.get(slot.shape.type_name, st.integers()))
    elif kind == "missing-required":
        candidates = [
            (node, name)
            for node, node_shape in _structures(document, shape)
            for name in node_shape.required_members
            if name in node
        ]
        if candidates:
            node, name = draw(st.sampled_from(candidates))
            if draw(st.booleans()):
                del node[name]
            else:
                node[name] = None
    elif kind == "unknown-member":
        node, node_shape = draw(st.sampled_from(_structures(document, shape)))
        name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in node_shape.members))
        node[name] = draw(_ANY_JSON)
    elif kind in ("huge-string", "unicode"):
        text_slots = [slot for slot in slots if slot.shape.type_name == "string"]
        text = draw(_huge_text() if kind == "huge-string" else _unicode_text())
        if text_slots:
            for slot in draw(st.lists(st.sampled_from(text_slots), min_size=1, max_size=3, unique_by=id)):
                slot.container[slot.key] = text
        else:
            strings = [name for name, member in shape.members.items() if member.type_name == "string"]
            document[draw(st.sampled_from(strings)) if strings else "padding"] = text


def _huge_text() -> st.SearchStrategy[str]:
    # Built by repetition: hypothesis would take far too long drawing 100 KB character by character.
    return st.builds(
        lambda unit, size: (unit * (size // max(1, len(unit)) + 1))[:size],
        st.sampled_from(["x", "é", "🚀", "\x00", "\u202e", 'ab\\"', "</>"]),
        st.integers(1_000, HUGE_STRING_MAX),
    )


def _deep(depth: int, opener: str) -> str:
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _deep_body(draw: Any, shape: Shape) -> bytes:
    depth = draw(st.sampled_from(DEEP_NESTING))
    nested = _deep(depth, draw(st.sampled_from(["[", "{"])))
    names = list(shape.members) or ["a"]
    where = draw(st.sampled_from(["top", "member"]))
    text = nested if where == "top" else f'{{"{draw(st.sampled_from(names))}": {nested}}}'
    return text.encode()


def _bad_json(draw: Any, document: dict[str, Any]) -> bytes:
    text = json.dumps(document)
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()  # truncated
    if choice == 1:
        return (text + draw(st.sampled_from(["}", ",", " x", "]", "{}"]))).encode()
    if choice == 2:
        return draw(st.binary(max_size=64))
    if choice == 3:
        return draw(
            st.sampled_from([b"\xff\xfe{", b'{"a": "\xc3\x28"}', b"\xef\xbb\xbf{}", b'{"a": "\\ud800"}'])
        )
    if choice == 4:
        return draw(
            st.sampled_from([b"[]", b'"text"', b"42", b"null", b"true", b'{"a":NaN}', b'{"a":-Infinity}'])
        )
    if choice == 5:
        return draw(
            st.sampled_from([b"{'a': 1}", b'{"a": 1,}', b'{"a" 1}', b"{a: 1}", b'{"a": 01}', b"\x00"])
        )
    return draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")


def _oversized_body(draw: Any, shape: Shape) -> bytes:
    names = [name for name, member in shape.members.items() if member.type_name == "string"] or ["padding"]
    size = MAX_BODY_BYTES + draw(st.integers(1, 64 * 1024))
    filler = "x" * size
    return json.dumps({draw(st.sampled_from(names)): filler}).encode()


def _place(operation: str, document: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(method, path with query, body document): members bound to the URI or query string leave the body."""
    model = spec.operation(operation)
    method, path = model.http["method"], model.http["requestUri"]
    body = dict(document)
    query: list[tuple[str, str]] = []
    shape = model.input_shape
    for name, member in shape.members.items() if shape is not None else []:
        location = member.serialization.get("location")
        if location not in ("uri", "querystring") or name not in body:
            continue
        value = body.pop(name)
        wire = member.serialization.get("name", name)
        if location == "uri":
            text = value if isinstance(value, str) else json.dumps(value)
            path = path.replace("{" + wire + "}", _fit(text, URI_TEXT_MAX // 2))
        else:
            values = value if isinstance(value, list) else [value]
            query.extend((wire, item if isinstance(item, str) else json.dumps(item)) for item in values)
    path = path.replace("{resourceArn}", "")
    if query:
        size = URI_TEXT_MAX // 2 // len(query)
        path += "?" + "&".join(f"{_fit(key, size)}={_fit(value, size)}" for key, value in query)
    return method, path, body


def _fit(text: str, limit: int) -> str:
    """`text` percent-encoded, shortened until the encoding fits in `limit` characters."""
    quoted = urllib.parse.quote(text, safe="")
    while len(quoted) > limit:
        text = text[: len(text) // 2]
        quoted = urllib.parse.quote(text, safe="")
    return quoted


def requests_for(operation: str, references: References | None = None) -> st.SearchStrategy[RawRequest]:
    """Raw HTTP requests for one operation, of every kind in KINDS."""
    shape = spec.operation(operation).input_shape
    assert shape is not None
    documents = value_for(shape, references or {})

    @st.composite
    def build(draw: Any) -> RawRequest:
        kind = draw(st.sampled_from(KINDS))
        document = draw(documents)
        if kind in ("wrong-type", "missing-required", "unknown-member", "huge-string", "unicode"):
            _mutate(draw, kind, document, shape)
        method, path, body_document = _place(operation, document)
        if kind == "deep-nesting":
            body = _deep_body(draw, shape)
        elif kind == "bad-json":
            body = _bad_json(draw, body_document)
        elif kind == "oversized":
            body = _oversized_body(draw, shape)
        elif method == "GET" and not body_document:
            return RawRequest(kind, method, path, None)
        else:
            text = json.dumps(body_document, ensure_ascii=draw(st.booleans()))
            body = text.encode("utf-8", "surrogatepass")
        return RawRequest(kind, method, path, body)

    return build()
