"""The torch side, named once: what the runtime, the handler and the Lambda image must never load or install.

Import names (checked in sys.modules and by import-linter's forbidden contract in pyproject.toml, which a unit
test keeps equal to IMPORTS) and distribution names (checked in requirements files, normalized as pip does).
"""

from __future__ import annotations

import re

# top-level modules of the build stage's model stack
IMPORTS: tuple[str, ...] = ("torch", "transformers", "optimum", "sentence_transformers")

# what pip installs them as, plus the packages that come only with them
DISTRIBUTIONS: tuple[str, ...] = (
    "torch",
    "transformers",
    "optimum",
    "optimum-onnx",
    "sentence-transformers",
    "huggingface-hub",
)


def normalize(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def torch_side_distributions(names: set[str] | list[str]) -> list[str]:
    """The torch-side distributions among `names`, sorted (empty when there are none)."""
    return sorted({normalize(n) for n in names} & set(DISTRIBUTIONS))


def torch_side_imports(modules: set[str] | list[str]) -> list[str]:
    """The torch-side packages among the top-level module names `modules`, sorted."""
    return sorted(set(modules) & set(IMPORTS))
