"""The build's model-family registry and variant list: every consumer reads them, so they must agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_build import cache, config, gate, variants
from edge_build.errors import BuildError
from edge_build.families import FAMILIES, FAMILY_NAMES, get_family


def test_every_gate_belongs_to_its_family_and_a_known_precision() -> None:
    precisions = {v.precision for v in variants.VARIANTS}
    for name, family in FAMILIES.items():
        assert family.gates, name
        for spec in family.gates:
            assert spec.key.startswith(name + "_") and spec.precision in precisions
            assert gate.GATE_METRICS[spec.key] == (name, spec.precision, spec.metric)
            assert gate.DEFAULT_GATES[spec.key] == spec.default


def test_each_family_has_its_settings_in_config_and_cli() -> None:
    for name, family in FAMILIES.items():
        assert config.ENV_VARS[family.env_var] == name
        assert config.ENV_VARS[f"{family.env_var}_REVISION"] == f"{name}_revision"
        assert {name, f"{name}_revision", f"{name}_trust_remote_code"} <= set(config.OVERRIDE_KEYS)
    assert config.load_config().models.keys() == set(FAMILY_NAMES)


def test_one_variant_list() -> None:
    assert config.KNOWN_VARIANTS == variants.VARIANT_NAMES == tuple(variants.BUILDERS)
    assert config.load_config().variants == list(variants.VARIANT_NAMES)  # models.toml names no second list
    assert variants.precision("O3") == "exact" and variants.precision("int8-nbits8") == "int8"
    with pytest.raises(BuildError, match="unknown variant"):
        variants.precision("int4")


def test_unknown_family_is_a_clear_error() -> None:
    with pytest.raises(BuildError, match="unknown model family 'sparse'; known: embed, rerank"):
        get_family("sparse")


def test_code_version_covers_subpackages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "edge_build"
    (package / "families").mkdir(parents=True)
    (package / "pipeline.py").write_text("x = 1\n")
    nested = package / "families" / "embed.py"
    nested.write_text("y = 1\n")
    monkeypatch.setattr(cache, "_BUILD_PACKAGE", package)
    before = cache.code_version()
    nested.write_text("y = 2\n")
    assert cache.code_version() != before
