"""What /info may show of a manifest: provenance (hub id, revision, package name and version, hashes), never
the build machine's paths.

Why a filter rather than a list of allowed keys: the manifest grows with new model families and sources; a new
provenance field should show up, a path should not, whatever it is called.
"""

from __future__ import annotations

import re
from typing import Any

_PATH_KEYS = re.compile(r"(^|_)(path|dir|folder|file_path|home|cwd)$", re.IGNORECASE)
_PATH_VALUE = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\|file:)")


def public(value: Any) -> Any:
    """A copy of manifest data without path-like keys or values (recursively)."""
    if isinstance(value, dict):
        return {
            key: public(item)
            for key, item in value.items()
            if not _PATH_KEYS.search(str(key)) and not (isinstance(item, str) and _PATH_VALUE.match(item))
        }
    if isinstance(value, list):
        return [public(item) for item in value if not (isinstance(item, str) and _PATH_VALUE.match(item))]
    return value
