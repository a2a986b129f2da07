"""template.yaml read as CloudFormation's long form: `!Ref x` -> {"Ref": x}, `!Sub s` -> {"Fn::Sub": s}.

PyYAML rejects the short-form tags; the tests that assert on wiring (conditions, policies, the state machine's
substitutions) read them the way CloudFormation itself expands them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that knows CloudFormation's short-form intrinsic functions."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template (or a variant of it written by a test) as a dict in long form."""
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)
    return data
