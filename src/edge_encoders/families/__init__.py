"""The registry of model families: what loads, validates and describes bundles loops over FAMILIES.

Adding a family: a module beside embed.py with its field checks and model class, and one entry below.
"""

from __future__ import annotations

from typing import Any

from edge_encoders.errors import BundleError
from edge_encoders.families.base import Family
from edge_encoders.families.embed import EMBED
from edge_encoders.families.rerank import RERANK

# Order matters only where output lists families (status, /info, /v1/models): the first is listed first.
FAMILIES: tuple[Family[Any], ...] = (EMBED, RERANK)
_BY_NAME: dict[str, Family[Any]] = {f.name: f for f in FAMILIES}


def family_names() -> tuple[str, ...]:
    """The manifest `kind` values this runtime serves, in registry order."""
    return tuple(_BY_NAME)


def family(name: object, *, where: str = "manifest") -> Family[Any]:
    """The family a manifest's `kind` names; BundleError for a name this runtime does not know."""
    found = _BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        known = " or ".join(repr(n) for n in _BY_NAME)
        raise BundleError(f"{where}: kind must be {known}, got {name!r}")
    return found


__all__ = ["EMBED", "FAMILIES", "RERANK", "Family", "family", "family_names"]
