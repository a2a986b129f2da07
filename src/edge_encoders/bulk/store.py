"""Where shards go: a local folder or an S3 prefix, behind the four calls the worker needs.

boto3 is imported only when an s3:// output is opened (the runtime imports without it). Local writes go to a
temporary file renamed into place, so a killed run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from edge_encoders.errors import EdgeEncodersError


class StoreError(EdgeEncodersError):
    """The output location cannot be read or written (missing bucket, no permission, full disk)."""

    code = "bulk_store_error"


class Store(Protocol):
    """A flat key space under one root (a folder or s3://bucket/prefix)."""

    root: str

    def uri(self, key: str) -> str: ...
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes, content_type: str) -> None: ...
    def keys(self, prefix: str) -> set[str]: ...


class LocalStore:
    """Keys are relative paths under a folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.root = str(self.folder)

    def uri(self, key: str) -> str:
        return str(self.folder / key)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.folder / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.folder / key}: {exc}") from None

    def write(self, key: str, data: bytes, content_type: str) -> None:
        path = self.folder / key
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {path}: {exc}") from None

    def keys(self, prefix: str) -> set[str]:
        base = self.folder / prefix
        if not base.is_dir():
            return set()
        return {str(p.relative_to(self.folder)) for p in base.iterdir() if p.is_file() and not p.name.startswith(".")}


class S3Store:
    """Keys under s3://bucket/prefix; the client is boto3's default (AWS_ENDPOINT_URL_S3 is honoured)."""

    def __init__(self, uri: str, client: Any | None = None) -> None:
        from edge_encoders.aws.s3_bundles import parse_s3_uri

        try:
            self.bucket, self.prefix = parse_s3_uri(uri)
        except EdgeEncodersError as exc:
            raise StoreError(exc.message.replace("bundle location", "output")) from None
        self.root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if client is None:
            try:
                import boto3
            except ImportError:
                raise StoreError("s3:// output needs boto3: `pip install edge-encoders[aws]`") from None
            client = boto3.client("s3")
        self._s3 = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StoreError(f"cannot read {self.uri(key)}: {code or exc}") from None
        except BotoCoreError as exc:
            raise StoreError(f"cannot read {self.uri(key)}: {exc}") from None

    def write(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot write {self.uri(key)}: {exc}") from None

    def keys(self, prefix: str) -> set[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: set[str] = set()
        start = len(self._key(""))
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                found.update(obj["Key"][start:] for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot list {self.uri(prefix)}: {exc}") from None
        return found


def open_store(location: str, *, client: Any | None = None) -> Store:
    """``s3://bucket/prefix`` or a folder path."""
    if location.startswith("s3://"):
        return S3Store(location, client)
    if "://" in location:
        raise StoreError(f"output {location!r}: use a folder path or s3://bucket/prefix")
    return LocalStore(location)
