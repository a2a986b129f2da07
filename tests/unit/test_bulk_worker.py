"""The bulk worker against moto's real HTTP S3 server, fed Distributed-Map-shaped events.

Vectors are compared with Embedder.embed for the same texts; the toy bundle keeps it fast and exact.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edge_devtools.torch_side import IMPORTS as TORCH_SIDE
from helpers.toy_bundles import make_toy_embed_bundle

from edge_encoders import Embedder
from edge_encoders.bulk import BulkEventError, BulkOptions, LocalStore, parse_event, process_batch, summary
from edge_encoders.bulk.worker import MAX_RETURNED_ERRORS, shard_keys

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")
pq = pytest.importorskip("pyarrow.parquet")

BUCKET = "corpus-out"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _, _ = make_toy_embed_bundle(tmp_path_factory.mktemp("bulk") / "embed", max_seq_length=16)
    return folder


@pytest.fixture(scope="module")
def embedder(bundle: Path) -> Embedder:
    return Embedder.from_bundle(bundle)


def _event(items: list[Any], **batch_input: Any) -> dict[str, Any]:
    return {"Items": items, "BatchInput": {"output": f"s3://{BUCKET}/run1", **batch_input}}


def _objects(client: Any) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def _table(client: Any, key: str) -> Any:
    return pq.read_table(io.BytesIO(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


TEXTS = ["the cat sat on the mat", "ONNX runtime on a CPU", "Grüße aus Köln 🙂", "x", "a much longer text " * 30]


def _run(embedder: Embedder, event: dict[str, Any]) -> dict[str, Any]:
    items, options = parse_event(event)
    from edge_encoders.bulk import open_store

    return process_batch(embedder, items, options, open_store(options.output))


def test_shard_vectors_equal_embed_and_manifest_line(s3: Any, embedder: Embedder) -> None:
    items = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(TEXTS)]
    line = _run(embedder, _event(items))
    assert line["skipped"] is False and line["count"] == len(TEXTS) and line["failed"] == 0
    objects = _objects(s3)
    shard_key, marker_key = shard_keys(line["digest"])
    assert set(objects) == {f"run1/{shard_key}", f"run1/{marker_key}"}
    table = _table(s3, f"run1/{shard_key}")
    assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(len(TEXTS))]
    got = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(got, embedder.embed(TEXTS))
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["model"] == "toy-embed" and meta["precision"] == "float32" and meta["dimensions"] == "16"
    stored = json.loads(objects[f"run1/{marker_key}"])
    for key in ("ids", "count", "model", "bundle_sha256", "precision", "dimensions", "shard_sha256"):
        assert key in stored
    assert stored["ids"] == [f"doc-{i}" for i in range(len(TEXTS))]
    assert stored["shard_uri"] == f"s3://{BUCKET}/run1/{shard_key}" and len(stored["bundle_sha256"]) == 64


def test_csv_shaped_items_options_precision_dimensions_prompt(s3: Any, embedder: Embedder) -> None:
    # a Distributed Map CSV reader hands rows keyed by the header, values as strings
    items = [{"doc": str(i), "body": t, "extra": "ignored"} for i, t in enumerate(TEXTS)]
    line = _run(
        embedder,
        _event(items, id_field="doc", text_field="body", precision="int8", dimensions=8, prompt_name="query"),
    )
    table = _table(s3, f"run1/{line['shard']}")
    got = np.array(table.column("embedding").to_pylist(), dtype=np.int8)
    np.testing.assert_array_equal(got, embedder.embed(TEXTS, precision="int8", dimensions=8, prompt_name="query"))
    assert line["precision"] == "int8" and line["dimensions"] == 8


def test_same_batch_same_key_and_rerun_skips(s3: Any, embedder: Embedder) -> None:
    items = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
    first = _run(embedder, _event(items))
    before = _objects(s3)
    again = _run(embedder, _event(items))
    assert again["skipped"] is True and again["digest"] == first["digest"]
    assert _objects(s3) == before  # nothing rewritten, nothing added
    other = _run(embedder, _event(items, precision="uint8"))
    assert other["digest"] != first["digest"]  # options are part of the key
    changed = _run(embedder, _event([*items[:-1], {"id": 99, "text": "new"}]))
    assert changed["digest"] != first["digest"]


def test_shard_without_marker_is_redone(s3: Any, embedder: Embedder) -> None:
    """A run killed between the shard and its manifest line leaves no marker: the re-run writes both."""
    items = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
    first = _run(embedder, _event(items))
    s3.delete_object(Bucket=BUCKET, Key=f"run1/{shard_keys(first['digest'])[1]}")
    s3.put_object(Bucket=BUCKET, Key=f"run1/{first['shard']}", Body=b"PAR1 half written")
    again = _run(embedder, _event(items))
    assert again["skipped"] is False and again["digest"] == first["digest"]
    assert _table(s3, f"run1/{first['shard']}").num_rows == len(TEXTS)


BAD = [
    {"id": "ok-1", "text": "fine"},
    "{not json",
    {"id": "no-text"},
    {"id": "empty", "text": "   "},
    {"text": "no id"},
    {"id": "lone", "text": "bad \ud800 surrogate"},
    {"id": "num", "text": 42},
    {"id": "ok-1", "text": "duplicate id"},
    ["not", "an", "object"],
    {"id": True, "text": "bool id"},
    {"id": "ok-2", "text": "also fine"},
]


def test_bad_items_reported_per_item_and_shard_still_written(s3: Any, embedder: Embedder) -> None:
    line = _run(embedder, _event(BAD))
    assert line["count"] == 2 and line["ids"] == ["ok-1", "ok-2"]
    codes = {e["index"]: e["code"] for e in line["errors"]}
    assert codes == {
        1: "invalid_json",
        2: "missing_text",
        3: "empty_text",
        4: "missing_id",
        5: "invalid_unicode",
        6: "invalid_text",
        7: "duplicate_id",
        8: "invalid_item",
        9: "invalid_id",
    }
    table = _table(s3, f"run1/{line['shard']}")
    np.testing.assert_array_equal(
        np.array(table.column("embedding").to_pylist(), dtype=np.float32), embedder.embed(["fine", "also fine"])
    )


def test_too_long_without_truncation_is_per_item(s3: Any, embedder: Embedder) -> None:
    items = [{"id": "short", "text": "short"}, {"id": "long", "text": "word " * 100}]
    line = _run(embedder, _event(items, truncate=False))
    assert line["ids"] == ["short"]
    assert [(e["id"], e["code"]) for e in line["errors"]] == [("long", "input_too_long")]
    truncated = _run(embedder, _event(items))  # truncation on: both embedded
    assert truncated["ids"] == ["short", "long"]


def test_all_items_bad_writes_an_empty_shard(s3: Any, embedder: Embedder) -> None:
    line = _run(embedder, _event(["nope", {"id": 1}]))
    assert line["count"] == 0 and line["failed"] == 2
    assert _table(s3, f"run1/{line['shard']}").num_rows == 0


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ([], "Distributed Map batch"),
        ({"BatchInput": {"output": "/tmp/x"}}, "Items"),
        ({"Items": [], "BatchInput": {}}, "output"),
        ({"Items": [], "BatchInput": {"output": "/tmp/x", "precison": "int8"}}, "precison"),
        ({"Items": [], "BatchInput": {"output": "/tmp/x", "precision": "fp16"}}, "precision"),
        ({"Items": [], "BatchInput": {"output": "/tmp/x", "dimensions": "8"}}, "dimensions"),
        ({"Items": [], "BatchInput": {"output": "/tmp/x", "truncate": "no"}}, "truncate"),
    ],
)
def test_bad_events_are_refused_by_name(event: Any, needle: str) -> None:
    with pytest.raises(BulkEventError) as info:
        parse_event(event)
    assert needle in info.value.message


def test_unknown_prompt_and_too_many_dimensions_refused(tmp_path: Path, embedder: Embedder) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(BulkEventError, match="prompt_name"):
        process_batch(embedder, [{"id": 1, "text": "a"}], BulkOptions(str(tmp_path), prompt_name="nope"), store)
    with pytest.raises(Exception, match="dimensions"):
        process_batch(embedder, [{"id": 1, "text": "a"}], BulkOptions(str(tmp_path), dimensions=17), store)
    assert not list(tmp_path.iterdir())


def test_summary_caps_errors_for_step_functions(tmp_path: Path, embedder: Embedder) -> None:
    items = ["bad"] * (MAX_RETURNED_ERRORS + 10)
    line = process_batch(embedder, items, BulkOptions(str(tmp_path)), LocalStore(tmp_path))
    out = summary(line)
    assert len(out["errors"]) == MAX_RETURNED_ERRORS and out["errors_truncated"] is True and "ids" not in out
    assert len(json.dumps(out)) < 256 * 1024


def test_lambda_entry_point(s3: Any, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """handler.bulk.handler as Lambda calls it: bundle and default output from the environment."""
    import handler.bulk as bulk_handler

    monkeypatch.setenv("EDGE_EMBED_BUNDLE", str(bundle))
    monkeypatch.setenv("EDGE_BULK_OUTPUT", f"s3://{BUCKET}/from-env")
    monkeypatch.setattr(bulk_handler, "_cache", {})
    event = {"Items": [{"id": "a", "text": "hello"}, {"id": "b"}], "BatchInput": {}}
    out = bulk_handler.handler(event, None)
    assert out["count"] == 1 and out["failed"] == 1 and out["shard_uri"].startswith(f"s3://{BUCKET}/from-env/")
    json.dumps(out)  # what Step Functions receives must be JSON
    assert bulk_handler.handler(event, None)["skipped"] is True
    with pytest.raises(BulkEventError):
        bulk_handler.handler({"items": []}, None)


PROBE = """
import json, sys
import handler.bulk
out = handler.bulk.handler({"Items": [{"id": "a", "text": "hello"}], "BatchInput": {"output": sys.argv[1]}}, None)
roots = sorted({name.split(".")[0] for name in sys.modules})
print("PROBE" + json.dumps({"count": out["count"], "modules": roots}))
"""


def test_bulk_entry_point_imports_no_torch_pyarrow_or_boto3(bundle: Path, tmp_path: Path) -> None:
    """The bulk function serves a batch to a local output with only the runtime's own dependencies."""
    import os
    import subprocess
    import sys

    from helpers.handler_support import REPO

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}, "EDGE_EMBED_BUNDLE": str(bundle)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("PROBE", 1)[1])
    assert result["count"] == 1  # it really embedded and wrote a shard
    imported = set(result["modules"])
    forbidden = {*TORCH_SIDE, "pyarrow", "pandas", "boto3"}
    assert not imported & forbidden, sorted(imported & forbidden)
    assert len(list((tmp_path / "out" / "shards").glob("*.parquet"))) == 1


def test_local_runner_to_s3_resumes_from_what_is_there(s3: Any, bundle: Path, tmp_path: Path) -> None:
    """`make bulk OUT=s3://...`: the process pool writes to S3; a second run finds every batch complete."""
    import os

    from edge_encoders.bulk.local import run

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": f"text number {i}"}) + "\n" for i in range(50)))
    options = BulkOptions(output=f"s3://{BUCKET}/local")
    with open(os.devnull, "w") as quiet:
        first = run(corpus, options, bundle, fmt="jsonl", batch_size=20, workers=2, stream=quiet)
        second = run(corpus, options, bundle, fmt="jsonl", batch_size=20, workers=2, stream=quiet)
    assert (first.written, first.skipped, first.failed_batches) == (3, 0, [])
    assert (second.written, second.skipped) == (0, 3)
    keys = set(_objects(s3))
    assert len([k for k in keys if k.endswith(".parquet")]) == 3 and "local/manifest.jsonl" in keys
    manifest = s3.get_object(Bucket=BUCKET, Key="local/manifest.jsonl")["Body"].read().decode()
    assert [i for line in manifest.splitlines() for i in json.loads(line)["ids"]] == [str(i) for i in range(50)]
