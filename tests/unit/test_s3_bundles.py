"""S3 bundles against moto's real HTTP S3 server on 127.0.0.1, with an unchanged boto3 client.

The client finds the server through AWS_ENDPOINT_URL_S3, exactly as a deployment would find a custom endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_encoders.aws.s3_bundles import MARKER_NAME, fetch_bundle, parse_s3_uri, publish_bundle
from edge_encoders.errors import BundleError
from edge_encoders.manifest import Manifest, file_entry, read_manifest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

BUCKET = "edge-bundles"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small but well-formed embed bundle (fetching never loads the model, so the bytes need not be ONNX)."""
    folder = tmp_path / "local-bundle"
    (folder / "extra").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(bytes(range(256)) * 4096)  # 1 MiB: multi-part paths get exercised
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece"}}), encoding="utf-8")
    (folder / "extra" / "calibration.npy").write_bytes(b"\x93NUMPY fake calibration")
    files = {name: file_entry(folder / name) for name in ("model.onnx", "tokenizer.json", "extra/calibration.npy")}
    Manifest(
        kind="embed",
        name="tiny",
        max_seq_length=32,
        input_names=["input_ids", "attention_mask"],
        output_name="last_hidden_state",
        model_file="model.onnx",
        variant="fp32",
        files=files,
        dimension=8,
        pooling="mean",
        normalize=True,
    ).write(folder)
    return folder


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://b/p/q/") == ("b", "p/q")
    assert parse_s3_uri("s3://b") == ("b", "")
    with pytest.raises(BundleError, match="not an s3:// URI"):
        parse_s3_uri("https://b/p")
    with pytest.raises(BundleError, match="names no bucket"):
        parse_s3_uri("s3:///p")


def test_publish_then_fetch_round_trip(s3: object, bundle: Path, tmp_path: Path) -> None:
    keys = publish_bundle(bundle, f"s3://{BUCKET}/v1/embed")
    assert keys[-1] == "v1/embed/manifest.json"  # the manifest goes up last
    assert sorted(keys) == sorted(
        ["v1/embed/manifest.json", "v1/embed/model.onnx", "v1/embed/tokenizer.json", "v1/embed/extra/calibration.npy"]
    )

    dest = tmp_path / "cache" / "embed"
    assert fetch_bundle(f"s3://{BUCKET}/v1/embed", dest) == dest
    for name in ("manifest.json", "model.onnx", "tokenizer.json", "extra/calibration.npy"):
        assert (dest / name).read_bytes() == (bundle / name).read_bytes(), name
    assert read_manifest(dest).name == "tiny"
    assert not list(dest.parent.glob(".embed.partial-*"))  # staging folder gone


def test_altered_object_fails_with_clear_message(s3: Any, bundle: Path, tmp_path: Path) -> None:
    publish_bundle(bundle, f"s3://{BUCKET}/v1/embed")
    s3.put_object(Bucket=BUCKET, Key="v1/embed/tokenizer.json", Body=b'{"model": {"type": "BPE"}}')
    dest = tmp_path / "cache" / "embed"
    with pytest.raises(BundleError) as info:
        fetch_bundle(f"s3://{BUCKET}/v1/embed", dest)
    message = info.value.message
    assert "tokenizer.json" in message and f"s3://{BUCKET}/v1/embed" in message
    assert "does not match its manifest" in message
    assert not dest.exists()  # a bad download never lands where the runtime looks
    assert not list(dest.parent.glob(".embed.partial-*"))


def test_same_size_altered_object_fails_on_sha256(s3: Any, bundle: Path, tmp_path: Path) -> None:
    publish_bundle(bundle, f"s3://{BUCKET}/v1/embed")
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[1000] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key="v1/embed/model.onnx", Body=bytes(data))
    with pytest.raises(BundleError, match=r"model.onnx sha256 .* does not match"):
        fetch_bundle(f"s3://{BUCKET}/v1/embed", tmp_path / "cache" / "embed")


def test_missing_object_fails_with_clear_message(s3: Any, bundle: Path, tmp_path: Path) -> None:
    publish_bundle(bundle, f"s3://{BUCKET}/v1/embed")
    s3.delete_object(Bucket=BUCKET, Key="v1/embed/extra/calibration.npy")
    with pytest.raises(BundleError, match=rf"s3://{BUCKET}/v1/embed/extra/calibration.npy does not exist"):
        fetch_bundle(f"s3://{BUCKET}/v1/embed", tmp_path / "cache" / "embed")


def test_missing_manifest_and_bucket(s3: object, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=rf"s3://{BUCKET}/nothing/manifest.json does not exist"):
        fetch_bundle(f"s3://{BUCKET}/nothing", tmp_path / "x")
    with pytest.raises(BundleError, match="bucket 'no-such-bucket' does not exist"):
        fetch_bundle("s3://no-such-bucket/v1", tmp_path / "x")


def test_manifest_with_escaping_file_name_is_refused(s3: Any, bundle: Path, tmp_path: Path) -> None:
    data = json.loads((bundle / "manifest.json").read_text())
    data["files"]["../../evil"] = {"sha256": "0" * 64, "size": 1}
    s3.put_object(Bucket=BUCKET, Key="bad/manifest.json", Body=json.dumps(data).encode())
    with pytest.raises(BundleError, match="not a plain relative path"):
        fetch_bundle(f"s3://{BUCKET}/bad", tmp_path / "cache" / "bad")


def test_verified_copy_is_reused_and_refreshed(
    s3: Any, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{BUCKET}/v1/embed"
    publish_bundle(bundle, uri)
    dest = tmp_path / "cache" / "embed"
    fetch_bundle(uri, dest)
    assert (dest / MARKER_NAME).is_file()

    # Second init in the same sandbox: only the manifest is read, no file is downloaded again.
    downloads: list[str] = []
    real_client = boto3.client

    def counting_client(*args: Any, **kwargs: Any) -> Any:
        client = real_client(*args, **kwargs)
        original = client.download_file

        def download_file(bucket: str, key: str, filename: str, **kw: Any) -> Any:
            downloads.append(key)
            return original(bucket, key, filename, **kw)

        client.download_file = download_file
        return client

    monkeypatch.setattr(boto3, "client", counting_client)
    before = (dest / "model.onnx").stat().st_mtime_ns
    fetch_bundle(uri, dest)
    assert downloads == []
    assert (dest / "model.onnx").stat().st_mtime_ns == before

    # A damaged local copy is not reused: it is downloaded again and verified.
    (dest / "tokenizer.json").write_text("{}", encoding="utf-8")
    fetch_bundle(uri, dest)
    assert sorted(downloads) == ["v1/embed/extra/calibration.npy", "v1/embed/model.onnx", "v1/embed/tokenizer.json"]
    assert (dest / "tokenizer.json").read_bytes() == (bundle / "tokenizer.json").read_bytes()

    # A republished bundle (new manifest) replaces the cached copy.
    downloads.clear()
    (bundle / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece"}, "v": 2}), encoding="utf-8")
    manifest = read_manifest(bundle)
    manifest.files["tokenizer.json"] = file_entry(bundle / "tokenizer.json")
    manifest.write(bundle)
    publish_bundle(bundle, uri)
    fetch_bundle(uri, dest)
    assert len(downloads) == 3
    assert json.loads((dest / "tokenizer.json").read_text())["v"] == 2


def test_publish_refuses_a_broken_bundle(s3: object, bundle: Path) -> None:
    (bundle / "model.onnx").write_bytes(b"truncated")
    with pytest.raises(BundleError, match=r"model\.onnx has 9 bytes"):
        publish_bundle(bundle, f"s3://{BUCKET}/v1/embed")
