"""The registry of model families on the build side: everything that differs per family is asked of it.

To add a family: a module here with a Family subclass (export task, loader, reference, figures, gates, table
columns) and one entry in FAMILIES; config, CLI, gate, report and pipeline pick it up by name.
"""

from __future__ import annotations

from edge_build.errors import BuildError
from edge_build.families.base import Family, GateSpec
from edge_build.families.embed import EMBED
from edge_build.families.rerank import RERANK

FAMILIES: dict[str, Family] = {family.name: family for family in (EMBED, RERANK)}
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)


def get_family(name: str) -> Family:
    """The registered family called ``name`` (the manifest's kind); a BuildError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise BuildError(f"unknown model family {name!r}; known: {', '.join(FAMILY_NAMES)}") from None


__all__ = ["FAMILIES", "FAMILY_NAMES", "Family", "GateSpec", "get_family"]
