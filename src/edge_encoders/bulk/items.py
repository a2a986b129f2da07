"""Corpus items: check each one on its own, so one bad line is reported and never sinks its batch.

An item is a JSON object with an id and a text, as Step Functions' ItemReader hands it over (a JSONL line
parsed, or a CSV row keyed by its header), or the raw line itself (`make bulk` passes lines, so invalid
JSON and invalid UTF-8 are this module's to report). Field names are configurable for CSVs with other
headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_ID_CHARS = 1024
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Item:
    """A checked item: where it was in the batch, its id (as a string) and its text."""

    index: int
    id: str
    text: str


@dataclass(frozen=True)
class ItemError:
    """Why the item at ``index`` of the batch was not embedded; ``id`` when it could be read."""

    index: int
    id: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "code": self.code, "message": self.message[:_MESSAGE_CHARS]}


def _valid_unicode(text: str) -> bool:
    """Lone surrogates (from JSON escapes or undecodable bytes) cannot be tokenized or written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_id(raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    value = str(raw)
    if not value or len(value) > MAX_ID_CHARS or not _valid_unicode(value):
        return None
    return value


def check_item(index: int, raw: Any, *, id_field: str = "id", text_field: str = "text") -> Item | ItemError:
    """One item in, an Item or the reason it cannot be embedded out; never raises for bad data."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ItemError(index, None, "invalid_unicode", f"the line is not valid UTF-8 ({exc.reason})")
    if isinstance(raw, str):
        if not _valid_unicode(raw):
            return ItemError(index, None, "invalid_unicode", "the line is not valid UTF-8")
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return ItemError(index, None, "invalid_json", f"the line is not valid JSON: {exc}")
    if not isinstance(raw, dict):
        return ItemError(index, None, "invalid_item", f"expected an object with {id_field!r} and {text_field!r}")
    if id_field not in raw:
        return ItemError(index, None, "missing_id", f"the item has no {id_field!r}")
    item_id = _read_id(raw[id_field])
    if item_id is None:
        return ItemError(
            index, None, "invalid_id", f"{id_field!r} must be a non-empty string or integer of valid Unicode"
        )
    if text_field not in raw or raw[text_field] is None:
        return ItemError(index, item_id, "missing_text", f"the item has no {text_field!r}")
    text = raw[text_field]
    if not isinstance(text, str):
        return ItemError(index, item_id, "invalid_text", f"{text_field!r} must be a string, not {type(text).__name__}")
    if not text.strip():
        return ItemError(index, item_id, "empty_text", f"{text_field!r} is empty")
    if not _valid_unicode(text):
        return ItemError(index, item_id, "invalid_unicode", f"{text_field!r} holds invalid Unicode (lone surrogates)")
    return Item(index, item_id, text)


def check_items(
    raws: list[Any], *, id_field: str = "id", text_field: str = "text"
) -> tuple[list[Item], list[ItemError]]:
    """Split a batch into good items and errors; a repeated id keeps its first occurrence."""
    good: list[Item] = []
    bad: list[ItemError] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        result = check_item(index, raw, id_field=id_field, text_field=text_field)
        if isinstance(result, ItemError):
            bad.append(result)
        elif result.id in seen:
            bad.append(ItemError(index, result.id, "duplicate_id", "this id already appeared earlier in the batch"))
        else:
            seen.add(result.id)
            good.append(result)
    return good, bad
