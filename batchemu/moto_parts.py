"""Where moto's backends are split for the state store, so that a write saves what it changed and not its
whole service: an S3 bucket's objects (one entry per key, with its versions), its pending multipart
uploads (one per upload, and one entry per part inside it) and S3's tags (one per ARN: moto tags every
object version), a DynamoDB table's items (one per item) and its stream's records (one entry per save, as
log events), a log group's streams (one per stream, without its events) and a stream's events (one entry
per save, holding the events it added) are collections kept entry by entry; the rest of a backend (its
shell) is pickled whole. An entry refers to the shell objects it holds (a stream's log group: an anchor)
and to the collections inside it (a stream's events) by their paths.
Which entries changed: an S3 bucket's key store records the keys it is given or loses (its class is
swapped for TrackedKeyStore), and their versions' ARNs name their tags; a DynamoDB request names its items
(integrations/moto_writes.py reads them from the request, resolved here against the live tables); log
streams say which changed (moto_log_streams.py), else a stream's fingerprint (events held, upload sequence
token, stored bytes) tells; log events and stream records are never changed once written, so the new ones
are those past the length last saved; an upload's part is never changed, only replaced, so its identity
tells. Imports moto lazily."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# ("keys", bucket) | ("uploads", bucket) | ("parts", bucket, upload) | ("tags",) | ("items", table)
# | ("records", table) | ("streams", group) | ("events", group, stream); anchors: ("group", group)
Path = tuple[str, ...]
MISSING = object()  # an entry that is no longer in its collection


def _keystore_type() -> type:
    from moto.s3.utils import _VersionedKeyStore

    return _VersionedKeyStore


_tracked: type | None = None


def tracked_keystore() -> type:
    """moto's _VersionedKeyStore, recording every key it sets or drops, after the change, by the thread
    that changed it (a request's own save reads its own thread's keys: a concurrent request's save cannot
    take them before this request has finished changing the key)."""
    global _tracked
    if _tracked is None:
        base: Any = _keystore_type()

        class TrackedKeyStore(base):  # type: ignore[misc, valid-type]
            def _changed(self, key: Any) -> None:
                by_thread = self.__dict__.get("changed_keys")
                if by_thread is None:
                    by_thread = self.__dict__.setdefault("changed_keys", {})
                by_thread.setdefault(threading.get_ident(), set()).add(key)

            def __setitem__(self, key: Any, value: Any) -> Any:
                super().__setitem__(key, value)
                self._changed(key)

            def __delitem__(self, key: Any) -> None:
                super().__delitem__(key)
                self._changed(key)

            def pop(self, key: Any, *default: Any) -> Any:
                try:
                    return super().pop(key, *default)
                finally:
                    self._changed(key)

            def setlist(self, key: Any, list_: Any) -> Any:
                super().setlist(key, list_)
                self._changed(key)

            def __reduce_ex__(self, protocol: Any) -> Any:  # every version of every key, by value
                return (keystore_from, (dict(dict.items(self)),))

        TrackedKeyStore.__module__ = __name__
        TrackedKeyStore.__qualname__ = "TrackedKeyStore"
        _tracked = TrackedKeyStore
    return _tracked


def keystore_from(versions: dict[str, list[Any]]) -> Any:
    """A TrackedKeyStore holding `versions` ({key: [versions]}), set as they are (moto's own
    __setitem__ would nest each list in another)."""
    store = tracked_keystore()()
    for key, held in versions.items():
        dict.__setitem__(store, key, held)
    return store


def drain_changed_keys(store: Any) -> set[str]:
    """The keys changed by this thread and by threads that have ended, since they were last drained."""
    by_thread = store.__dict__.get("changed_keys")
    if not by_thread:
        return set()
    me = threading.get_ident()
    alive = {thread.ident for thread in threading.enumerate()}
    drained: set[str] = set()
    for ident in list(by_thread):
        if ident == me or ident not in alive:
            drained |= by_thread.pop(ident, set())
    return drained


@dataclass
class Collection:
    path: Path
    value: Any  # the live dict or list


def collections(service: str, backend: Any) -> list[Collection]:
    """The collections of one backend kept entry by entry; S3 key stores become TrackedKeyStores here."""
    found: list[Collection] = []
    if service == "s3":
        tracked = tracked_keystore()
        for name, bucket in list(getattr(backend, "buckets", {}).items()):
            keys = getattr(bucket, "keys", None)
            if type(keys) is _keystore_type():
                keys.__class__ = tracked
            if isinstance(keys, tracked):
                found.append(Collection(("keys", name), keys))
            if isinstance(getattr(bucket, "multiparts", None), dict):
                found.append(Collection(("uploads", name), bucket.multiparts))
        tags = getattr(getattr(backend, "tagger", None), "tags", None)
        if type(tags) is dict:
            found.append(Collection(("tags",), tags))
    elif service == "dynamodb":
        for name, table in list(getattr(backend, "tables", {}).items()):
            if isinstance(getattr(table, "items", None), dict):
                found.append(Collection(("items", name), table.items))
            records = getattr(getattr(table, "stream_shard", None), "items", None)
            if type(records) is list:
                found.append(Collection(("records", name), records))
    elif service == "logs":
        for group_name, group in list(getattr(backend, "groups", {}).items()):
            streams = getattr(group, "streams", None)
            if not isinstance(streams, dict):
                continue
            found.append(Collection(("streams", group_name), streams))
    return found


def nested(path: Path, name: str, item: Any) -> list[Collection]:
    """The collections inside an entry (a log stream's events, a multipart upload's parts), saved with
    the entry."""
    if path[0] == "streams" and isinstance(getattr(item, "events", None), list):
        return [Collection(("events", path[1], name), item.events)]
    if path[0] == "uploads" and type(getattr(item, "parts", None)) is dict:
        return [Collection(("parts", path[1], name), item.parts)]
    return []


def parent(path: Path) -> tuple[Path, str] | None:
    """The collection and entry a nested collection is inside (a stream's events: its stream; an
    upload's parts: its upload)."""
    if path[0] == "events":
        return ("streams", path[1]), path[2]
    if path[0] == "parts":
        return ("uploads", path[1]), path[2]
    return None


def anchors(service: str, backend: Any) -> dict[int, Path]:
    """The shell's objects that entries refer to, by id: their paths."""
    if service != "logs":
        return {}
    return {id(group): ("group", name) for name, group in list(getattr(backend, "groups", {}).items())}


def is_anchor(path: Path) -> bool:
    return path[0] == "group"


def anchor(backend: Any, path: Path) -> Any:
    """The object of the loaded shell an anchor's path names."""
    return backend.groups[path[1]]


def has_fingerprint(path: Path) -> bool:
    return path[0] in ("streams", "parts")


def fingerprint(path: Path, item: Any) -> Any:
    """What tells, without pickling, whether an entry changed (None: pickle it to know). A log stream is
    changed by moto only when events are added: its events' count, sequence token and stored bytes. An
    upload's part is never changed, only replaced by another (the same number uploaded again)."""
    if path[0] == "streams":
        return (item, len(item.events), item.upload_sequence_token, item.stored_bytes)
    if path[0] == "parts":
        return (id(item), item)  # (the item held: its id is not another's)
    return None


def is_list(path: Path) -> bool:
    return path[0] in ("events", "records")


def empty(path: Path) -> Any:
    """A new, empty collection of the kind saved at `path` (it is filled from its entries at start-up)."""
    if path[0] == "keys":
        return tracked_keystore()()
    if path[0] == "uploads":
        from moto.s3.models import MultipartDict

        return MultipartDict()
    if path[0] == "items":
        return defaultdict(dict)
    if path[0] == "streams":
        from batchemu.moto_log_streams import TrackedStreams

        return TrackedStreams()
    if path[0] in ("tags", "parts"):
        return {}
    return []


def tag_names(keys: Any, changed: set[str]) -> set[str]:
    """The tags (by ARN) of every version of the `changed` keys of a key store."""
    return {
        version.arn
        for name in changed
        for version in dict.get(keys, name) or []
        if isinstance(getattr(version, "arn", None), str)
    }


# -- entries of a dict collection ----------------------------------------------------------------
def entries(path: Path, value: Any) -> Iterator[tuple[str, Any]]:
    if path[0] == "keys":
        for key in list(dict.keys(value)):
            versions = dict.get(value, key)
            if versions:
                yield key, versions
    elif path[0] == "items":
        for hash_key, held in list(value.items()):
            if isinstance(held, dict):  # a table with a range key: {range key: item}
                for range_key, item in list(held.items()):
                    yield item_name(hash_key, range_key), item
            else:
                yield item_name(hash_key, None), held
    elif path[0] == "parts":  # {part number: FakeKey}
        for number, part in list(value.items()):
            yield str(number), part
    else:
        yield from list(value.items())


def entry(path: Path, value: Any, name: str) -> Any:
    """The entry `name` of a live dict collection, or MISSING."""
    if path[0] == "keys":
        return dict.get(value, name) or MISSING
    if path[0] == "items":
        hash_key, range_key = _item_key(name)
        held = dict.get(value, hash_key, MISSING)
        if range_key is not None:
            held = held.get(range_key, MISSING) if isinstance(held, dict) else MISSING
        return MISSING if isinstance(held, dict) else held
    if path[0] == "parts":
        return dict.get(value, int(name), MISSING)
    return dict.get(value, name, MISSING)


def put(path: Path, value: Any, name: str, item: Any) -> None:
    """Puts a saved entry back into a collection being loaded."""
    if path[0] == "keys":
        dict.__setitem__(value, name, item)
    elif path[0] == "items":
        if item.range_key is None:
            value[item.hash_key] = item
        else:
            value[item.hash_key][item.range_key] = item
    elif path[0] == "parts":
        dict.__setitem__(value, int(name), item)
    else:
        dict.__setitem__(value, name, item)


# -- DynamoDB item names -------------------------------------------------------------------------
def _canonical(key: Any) -> list[str]:
    """A key attribute as [type, value]; numbers that DynamoDB holds equal ("1", "1.0") read the same."""
    value = key.value
    if key.type == "N":
        try:
            value = str(Decimal(value).normalize())
        except (InvalidOperation, TypeError):
            value = str(value)
    elif isinstance(value, bytes):
        value = value.decode("latin-1")
    return [str(key.type), str(value)]


def item_name(hash_key: Any, range_key: Any) -> str:
    parts = [_canonical(hash_key)] + ([_canonical(range_key)] if range_key is not None else [])
    return json.dumps(parts, separators=(",", ":"))


def _item_key(name: str) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    parts = json.loads(name)
    keys = [DynamoType({kind: value}) for kind, value in parts]
    return keys[0], keys[1] if len(keys) > 1 else None


def dynamodb_items(backend: Any, requested: list[tuple[str, dict[str, Any]]]) -> dict[Path, set[str]]:
    """The item entries a request names, by table: (table name or ARN, its key attributes or whole item).
    A table this backend does not hold, or a key without the table's key attributes, names nothing."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    named: dict[Path, set[str]] = {}
    for table_name, attributes in requested:
        name = table_name.split(":table/", 1)[-1] if table_name.startswith("arn:") else table_name
        table = getattr(backend, "tables", {}).get(name)
        if table is None:
            continue
        hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
        try:
            hash_key = DynamoType(attributes[hash_attr])
            range_key = DynamoType(attributes[range_attr]) if range_attr else None
        except (KeyError, TypeError, IndexError, AttributeError):
            continue
        named.setdefault(("items", name), set()).add(item_name(hash_key, range_key))
    return named


__all__ = [
    "MISSING",
    "Collection",
    "anchor",
    "anchors",
    "collections",
    "drain_changed_keys",
    "dynamodb_items",
    "empty",
    "entries",
    "entry",
    "fingerprint",
    "has_fingerprint",
    "is_anchor",
    "is_list",
    "nested",
    "parent",
    "item_name",
    "put",
    "tag_names",
    "tracked_keystore",
]
