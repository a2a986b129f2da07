"""scripts/check_bundles.py, the image build's last step: every file of every bundle verified, the variant
this architecture loads named, and no onnxruntime imported (so it runs under arm64 emulation too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

from edge_encoders.manifest import file_entry, read_manifest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_bundles.py"


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path]:
    return make_toy_embed_bundle(tmp_path / "embed")[0], make_toy_rerank_bundle(tmp_path / "rerank")[0]


def _check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # -X importtime lists every module the script imports, on stderr; -I: nothing from this venv's paths or cwd.
    return subprocess.run(
        [sys.executable, "-I", "-X", "importtime", str(SCRIPT), str(REPO / "src" / "edge_encoders"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_good_bundles_pass_without_onnxruntime(bundles: tuple[Path, Path]) -> None:
    result = _check(*bundles, "--machine", "x86_64")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("embed: ") and "variant fp32 (model.onnx) on x86_64" in lines[0]
    assert lines[1].startswith("rerank: ") and "files verified" in lines[1]
    imported = _imported(result.stderr)
    assert "edge_encoders.hashing" in imported  # what verify_files uses (importlib.import_module is not listed)
    assert not {"onnxruntime", "numpy", "tokenizers", "edge_encoders.session"} & imported


@pytest.mark.parametrize("victim", ["tokenizer.json", "model.onnx", "manifest-listed extra"])
def test_any_altered_file_fails(bundles: tuple[Path, Path], victim: str) -> None:
    embed, rerank = bundles
    manifest = read_manifest(embed)
    if victim == "manifest-listed extra":  # a file the runtime does not load is still checked
        extra = embed / "validation.json"
        extra.write_text("{}")
        data = json.loads((embed / "manifest.json").read_text())
        data["files"]["validation.json"] = file_entry(extra).__dict__
        (embed / "manifest.json").write_text(json.dumps(data))
        extra.write_text('{"changed": true}')  # altered after the build
        victim = "validation.json"
    else:
        assert victim in manifest.files
        path = embed / victim
        data_bytes = bytearray(path.read_bytes())
        data_bytes[len(data_bytes) // 2] ^= 0xFF  # same size, different digest
        path.write_bytes(bytes(data_bytes))
    result = _check(embed, rerank)
    assert result.returncode == 1
    assert f"{victim}" in result.stderr and "bundle check failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_arm64_variant_is_what_gets_checked(bundles: tuple[Path, Path]) -> None:
    embed, rerank = bundles
    data = json.loads((embed / "manifest.json").read_text())
    data["arch_variants"] = {"aarch64": {"variant": "int8-arm64", "file": "model_arm64.onnx"}}
    (embed / "manifest.json").write_text(json.dumps(data))
    missing = _check(embed, rerank, "--machine", "aarch64")
    assert missing.returncode == 1 and "model_arm64.onnx" in missing.stderr  # not built for arm64: refused
    assert _check(embed, rerank, "--machine", "x86_64").returncode == 0  # x86 loads model.onnx, still fine

    (embed / "model_arm64.onnx").write_bytes((embed / "model.onnx").read_bytes())
    data["files"]["model_arm64.onnx"] = file_entry(embed / "model_arm64.onnx").__dict__
    (embed / "manifest.json").write_text(json.dumps(data))
    ok = _check(embed, rerank, "--machine", "aarch64")
    assert ok.returncode == 0, ok.stderr[-1000:]
    assert "variant int8-arm64 (model_arm64.onnx) on aarch64" in ok.stdout


def test_dockerfile_runs_the_check_as_a_script_after_the_bundles() -> None:
    dockerfile = (REPO / "Dockerfile.lambda").read_text()
    assert "<<" not in dockerfile  # heredocs: buildah and Docker's legacy builder (sam build) cannot read them
    check = dockerfile.index("RUN python /tmp/check_bundles.py edge_encoders bundles/embed bundles/rerank")
    assert check > dockerfile.index("COPY ${BUNDLES}/rerank")
    assert "EDGE_VERIFY_BUNDLES=false" in dockerfile  # only because the build checked every digest
    assert "!scripts/check_bundles.py" in (REPO / ".dockerignore").read_text().splitlines()
