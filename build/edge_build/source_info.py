"""What a resolved model source is, shared by the source resolvers and the stand-in trainer (no resolver here).

Kept apart from sources.py so the stand-in, which sources.py builds, does not import sources.py back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_encoders.hashing import sha256_file


class SourceError(Exception):
    """A model source cannot be used; the message is one paragraph a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ResolvedSource:
    """A model folder on local disk and where it came from."""

    path: Path  # a sentence-transformers model folder on local disk
    info: dict[str, Any]  # manifest.source: type, id, revision, resolved_commit, package, local_path, ...


def source_info(kind_of_source: str, source_id: str, path: Path, **extra: Any) -> dict[str, Any]:
    """The same keys for every source type, so manifests compare field by field."""
    info: dict[str, Any] = {
        "type": kind_of_source,
        "id": source_id,
        "revision": None,
        "resolved_commit": None,
        "package": None,
        "package_version": None,
        "local_path": str(path),
        "trust_remote_code": False,
    }
    info.update(extra)
    return info


def folder_fingerprint(path: Path) -> str:
    """sha256 over every file's relative name and content digest: a cache key that notices any edited file."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(b"\0")
        digest.update(sha256_file(file).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)
