"""Embed one batch of corpus items into one Parquet shard plus its manifest line; the same code on Lambda
(a Step Functions Distributed Map batch) and in `make bulk`'s process pool.

Idempotence: a batch's shard key is a digest of its items, the options and the bundle, so the same batch
always lands on the same key. The manifest line is written after the shard and is the completion marker:
a batch whose manifest line exists is skipped, and one that died between the two writes is simply redone
(overwriting the same key). Bad items are listed in the manifest line and never abort the shard.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_encoders.bulk.items import ItemError, check_items
from edge_encoders.bulk.parquet import write_embeddings_parquet
from edge_encoders.bulk.store import Store
from edge_encoders.embedder import Embedder
from edge_encoders.errors import InputError, InvalidArgumentError
from edge_encoders.manifest import Manifest
from edge_encoders.precision import PRECISIONS, Precision

SHARD_DIR = "shards"
# errors listed in the worker's return value (Step Functions caps a state's output at 256 KB); the
# manifest line keeps all of them
MAX_RETURNED_ERRORS = 50


class BulkEventError(InputError):
    """The batch event or its options cannot be used (the caller's configuration, not one item's data)."""

    code = "bad_bulk_event"


@dataclass(frozen=True)
class BulkOptions:
    """What to compute for every item; all but ``output`` are part of the shard key."""

    output: str
    precision: Precision = "float32"  # checked against PRECISIONS in check_types: events are untyped JSON
    dimensions: int | None = None
    truncate: bool = True
    prompt_name: str | None = None
    id_field: str = "id"
    text_field: str = "text"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, default_output: str | None = None) -> BulkOptions:
        """From a Distributed Map BatchInput; unknown keys and wrong types are refused by name.

        The options may also sit in a nested ``options`` object (what the state machine passes on from
        the execution input), beside ``output``.
        """
        data = dict(data)
        nested = data.pop("options", None) or {}
        if not isinstance(nested, dict):
            raise BulkEventError("BatchInput 'options' must be an object")
        if "output" in nested:
            raise BulkEventError("'output' cannot be set in 'options': the output location is not an embedding option")
        twice = sorted(set(nested) & set(data))
        if twice:
            raise BulkEventError(f"BatchInput sets {twice} both directly and in 'options'")
        data.update(nested)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise BulkEventError(f"unknown BatchInput option(s) {unknown}; known: {sorted(known)}")
        output = data.get("output") or default_output
        if not isinstance(output, str) or not output:
            raise BulkEventError("BatchInput needs 'output' (a folder or s3://bucket/prefix) and none is configured")
        options = cls(output=output, **{k: v for k, v in data.items() if k != "output"})
        options.check_types()
        return options

    def check_types(self) -> None:
        if self.precision not in PRECISIONS:
            raise BulkEventError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.dimensions is not None and (
            isinstance(self.dimensions, bool) or not isinstance(self.dimensions, int) or self.dimensions < 1
        ):
            raise BulkEventError(f"dimensions must be a positive integer; got {self.dimensions!r}")
        if not isinstance(self.truncate, bool):
            raise BulkEventError(f"truncate must be true or false; got {self.truncate!r}")
        for name in ("prompt_name",):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise BulkEventError(f"{name} must be a string; got {value!r}")
        for name in ("id_field", "text_field"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise BulkEventError(f"{name} must be a non-empty string")

    def key_part(self) -> dict[str, Any]:
        """The options that change the vectors (or which fields are read): everything but the output."""
        part = asdict(self)
        del part["output"]
        return part


def bundle_sha256(manifest: Manifest) -> str:
    """One digest for the bundle: its manifest, which holds every file's sha256 and the model's settings."""
    return hashlib.sha256(json.dumps(manifest.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()


def batch_digest(items: Sequence[Any], options: BulkOptions, bundle: str) -> str:
    """The shard key's digest: the same items, options and bundle give the same key, anything else another."""
    payload = json.dumps(
        {"items": list(items), "options": options.key_part(), "bundle": bundle},
        sort_keys=True,
        ensure_ascii=True,  # lone surrogates from bad input must still hash
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:32]


def shard_keys(digest: str) -> tuple[str, str]:
    """(shard, manifest line) keys of a batch."""
    return f"{SHARD_DIR}/{digest}.parquet", f"{SHARD_DIR}/{digest}.manifest.json"


def parse_event(event: Any, *, default_output: str | None = None) -> tuple[list[Any], BulkOptions]:
    """A Distributed Map batch: ``{"Items": [...], "BatchInput": {...}}``."""
    if not isinstance(event, dict):
        raise BulkEventError('the event must be a Distributed Map batch: {"Items": [...], "BatchInput": {...}}')
    items = event.get("Items")
    if not isinstance(items, list):
        raise BulkEventError("the event has no 'Items' list: configure an ItemBatcher on the Distributed Map")
    batch_input = event.get("BatchInput") or {}
    if not isinstance(batch_input, dict):
        raise BulkEventError("'BatchInput' must be an object")
    return items, BulkOptions.from_mapping(batch_input, default_output=default_output)


def resolve_prompt(embedder: Embedder, prompt_name: str | None) -> str:
    """The prompt text the embedder would prepend, resolved once so that length checks see it too."""
    try:
        return embedder.prompt_text(prompt_name)
    except InvalidArgumentError as exc:
        raise BulkEventError(str(exc)) from None


def _too_long(embedder: Embedder, texts: list[str]) -> list[int]:
    """Positions of texts that would be truncated: refused per item when truncation is off."""
    encodings = embedder.tokenizer.encode(texts, truncate=True)
    return [i for i, enc in enumerate(encodings) if enc.overflowing]


def read_line(store: Store, marker_key: str, digest: str) -> dict[str, Any] | None:
    """A batch's manifest line if it is complete (present, readable, for this digest), else None."""
    data = store.read(marker_key)
    if data is None:
        return None
    try:
        line = json.loads(data)
    except ValueError:
        return None
    return line if isinstance(line, dict) and line.get("digest") == digest else None


def process_batch(
    embedder: Embedder, items: Sequence[Any], options: BulkOptions, store: Store, *, bundle: str | None = None
) -> dict[str, Any]:
    """Embed ``items`` into one shard in ``store``; returns the batch's manifest line (plus ``skipped``)."""
    started = time.perf_counter()
    bundle = bundle or bundle_sha256(embedder.manifest)
    digest = batch_digest(items, options, bundle)
    shard_key, marker_key = shard_keys(digest)
    done = read_line(store, marker_key, digest)
    if done is not None:
        return {**done, "skipped": True}

    prefix = resolve_prompt(embedder, options.prompt_name)
    dims = options.dimensions or embedder.dimension
    if dims > embedder.dimension:
        raise InvalidArgumentError(f"dimensions must be between 1 and {embedder.dimension}; got {dims}")
    good, bad = check_items(list(items), id_field=options.id_field, text_field=options.text_field)
    if good and not options.truncate:
        long_positions = set(_too_long(embedder, [prefix + item.text for item in good]))
        limit = embedder.manifest.max_seq_length
        for position in sorted(long_positions):
            item = good[position]
            bad.append(
                ItemError(
                    item.index,
                    item.id,
                    "input_too_long",
                    f"longer than the model's limit of {limit} tokens; shorten it or turn truncation on",
                )
            )
        good = [item for position, item in enumerate(good) if position not in long_positions]
    bad.sort(key=lambda err: err.index)

    ids = [item.id for item in good]
    if good:
        vectors = embedder.embed(
            [item.text for item in good], prompt=prefix, dimensions=dims, precision=options.precision, truncate=True
        )
    else:
        vectors = np.zeros((0, dims), dtype=np.float32)
    facts = {
        "model": embedder.manifest.name,
        "bundle_sha256": bundle,
        "variant": embedder.variant,
        "precision": options.precision,
        "dimensions": dims,
    }
    shard = write_embeddings_parquet(
        ids, vectors, precision=options.precision, metadata={k: str(v) for k, v in facts.items()}
    )
    store.write(shard_key, shard, "application/vnd.apache.parquet")
    line: dict[str, Any] = {
        "digest": digest,
        "shard": shard_key,
        "shard_uri": store.uri(shard_key),
        "shard_bytes": len(shard),
        "shard_sha256": hashlib.sha256(shard).hexdigest(),
        "items": len(items),
        "count": len(ids),
        "failed": len(bad),
        **facts,
        "ids": ids,
        "errors": [err.to_dict() for err in bad],
        "seconds": round(time.perf_counter() - started, 3),
    }
    store.write(marker_key, (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"), "application/json")
    return {**line, "skipped": False}


def summary(line: Mapping[str, Any]) -> dict[str, Any]:
    """What a Lambda returns to Step Functions: the line without the id list, errors capped."""
    out = {k: v for k, v in line.items() if k not in ("ids", "errors")}
    errors = list(line.get("errors", []))
    out["errors"] = errors[:MAX_RETURNED_ERRORS]
    out["errors_truncated"] = len(errors) > MAX_RETURNED_ERRORS
    return out
