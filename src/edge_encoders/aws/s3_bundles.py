"""Bundles kept in S3: download (Lambda init) and publish (`make publish`), sha256-checked against the manifest.

Why here and not in the handler: any edge target (Lambda, ECS, a laptop) may keep bundles in S3, and the
checks are the bundle contract's own (edge_encoders.manifest). boto3 is imported inside the functions only:
the runtime must import without it (`pip install edge-encoders[aws]` brings it; the Lambda base image has it).

Layout in S3 mirrors the folder: ``s3://bucket/prefix/manifest.json`` plus every file the manifest lists.
The manifest is read first, then each file it lists; nothing is trusted that the manifest does not name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from edge_encoders.errors import BundleError
from edge_encoders.manifest import MANIFEST_NAME, Manifest, read_manifest, verify_files

log = logging.getLogger("edge_encoders")

# Written beside the files once every digest matched: {"uri": ..., "manifest_sha256": ...}
MARKER_NAME = ".edge-fetched.json"


def parse_s3_uri(s3_uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ("bucket", "some/prefix"); a clear error for anything else."""
    if not s3_uri.startswith("s3://"):
        raise BundleError(f"bundle location {s3_uri!r} is not an s3:// URI (expected s3://bucket/prefix)")
    bucket, _, prefix = s3_uri[len("s3://") :].partition("/")
    if not bucket:
        raise BundleError(f"bundle location {s3_uri!r} names no bucket (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _safe_name(name: str, where: str) -> str:
    """File names come from a downloaded manifest: refuse anything that could escape the bundle folder."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or name == MANIFEST_NAME:
        raise BundleError(f"{where}: file name {name!r} in the manifest is not a plain relative path")
    return name


def _s3_client(client: Any | None) -> Any:
    if client is not None:
        return client
    try:
        import boto3  # noqa: F401
    except ImportError:
        raise BundleError(
            "bundles from S3 need boto3, which is not installed: `pip install edge-encoders[aws]` "
            "(the AWS Lambda base image ships it)"
        ) from None
    from edge_encoders.aws.aws_clients import client as aws_client

    return aws_client("s3")


def _client_error_text(exc: Exception, bucket: str, key: str) -> str:
    """Turn botocore's errors into one sentence that says what to fix."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    where = f"s3://{bucket}/{key}"
    if code in ("404", "NoSuchKey", "NotFound"):
        return f"{where} does not exist (publish the bundle with `make publish`, or fix the bundle S3 URI)"
    if code == "NoSuchBucket":
        return f"bucket {bucket!r} does not exist (fix the bundle S3 URI)"
    if code in ("403", "AccessDenied", "Forbidden"):
        return (
            f"{where} is missing or not readable with these credentials (403): check the URI and that the "
            "role may s3:GetObject (and s3:ListBucket, so that a missing object reads as 404)"
        )
    return f"cannot read {where}: {exc}"


def _get_bytes(client: Any, bucket: str, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read())
    except ClientError as exc:
        raise BundleError(_client_error_text(exc, bucket, key)) from None
    except BotoCoreError as exc:
        raise BundleError(f"cannot read s3://{bucket}/{key}: {exc}") from None


def _download(client: Any, bucket: str, key: str, target: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.download_file(bucket, key, str(target))
    except ClientError as exc:
        raise BundleError(_client_error_text(exc, bucket, key)) from None
    except BotoCoreError as exc:
        raise BundleError(f"cannot download s3://{bucket}/{key}: {exc}") from None


def _read_marker(dest: Path) -> dict[str, Any]:
    try:
        data = json.loads((dest / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _reusable(dest: Path, s3_uri: str, manifest_bytes: bytes, manifest: Manifest) -> bool:
    """A local copy is reused only if it came from this URI, has this manifest, and every digest still matches."""
    marker = _read_marker(dest)
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    if marker.get("uri") != s3_uri or marker.get("manifest_sha256") != digest:
        return False
    try:
        if (dest / MANIFEST_NAME).read_bytes() != manifest_bytes:
            return False
        verify_files(dest, manifest)
    except (OSError, BundleError) as exc:
        log.warning("cached bundle %s is stale or damaged (%s): downloading again", dest, exc)
        return False
    return True


def fetch_bundle(s3_uri: str, dest: Path, *, client: Any | None = None) -> Path:
    """Download the bundle at ``s3_uri`` into ``dest`` and verify every file; return ``dest``.

    A verified copy already in ``dest`` (same URI, same manifest) is reused without downloading, so a warm
    Lambda sandbox that runs init again does not pay for the download twice. The files land in a sibling
    staging folder first and replace ``dest`` only once every size and sha256 matched, so a failed or
    interrupted download never leaves a half bundle where the runtime looks.
    """
    dest = Path(dest)
    bucket, prefix = parse_s3_uri(s3_uri)
    s3 = _s3_client(client)
    manifest_key = _key(prefix, MANIFEST_NAME)
    manifest_bytes = _get_bytes(s3, bucket, manifest_key)
    where = f"s3://{bucket}/{manifest_key}"
    try:
        data = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{where} is not valid JSON: {exc}") from None
    manifest = Manifest.from_dict(data, where=where)
    names = [_safe_name(name, where) for name in manifest.files]

    if _reusable(dest, s3_uri, manifest_bytes, manifest):
        log.info("bundle %s: reusing verified copy in %s", s3_uri, dest)
        return dest

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / MANIFEST_NAME).write_bytes(manifest_bytes)
        for name in names:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _download(s3, bucket, _key(prefix, name), target)
        try:
            verify_files(staging, manifest)
        except BundleError as exc:
            raise BundleError(
                f"bundle {s3_uri} does not match its manifest: "
                + exc.message.replace(f"{staging}: ", "").replace(str(staging), s3_uri)
            ) from None
        marker = {"uri": s3_uri, "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest()}
        (staging / MARKER_NAME).write_text(json.dumps(marker), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("bundle %s: downloaded %d files into %s", s3_uri, len(names), dest)
    return dest


def publish_bundle(bundle_dir: str | Path, s3_uri: str, *, client: Any | None = None) -> list[str]:
    """Upload a local bundle (verified first) to ``s3_uri``; return the keys written, manifest last.

    The manifest goes up after every file it lists, so a reader never finds a new manifest whose files are
    not there yet.
    """
    bundle = Path(bundle_dir)
    manifest = read_manifest(bundle)
    verify_files(bundle, manifest)
    bucket, prefix = parse_s3_uri(s3_uri)
    s3 = _s3_client(client)
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    written: list[str] = []
    for name in [*(_safe_name(n, str(bundle)) for n in manifest.files), MANIFEST_NAME]:
        key = _key(prefix, name)
        try:
            s3.upload_file(str(bundle / name), bucket, key)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise BundleError(f"cannot upload {bundle / name} to s3://{bucket}/{key}: {exc}") from None
        written.append(key)
    return written
