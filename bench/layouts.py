"""Folders the baselines need around the very same .onnx file (symlinks, no copies of the weights).

sentence-transformers' ONNX backend wants a sentence-transformers folder with the graph under onnx/;
fastembed wants model.onnx beside config.json and the tokenizer files. Both are built under artifacts/bench/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

_WEIGHTS = {"model.safetensors", "pytorch_model.bin", "onnx", "openvino", "README.md", ".gitattributes"}
FASTEMBED_FILES = ("config.json", "tokenizer.json", "special_tokens_map.json", "vocab.txt")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        else:
            link.unlink()
    link.symlink_to(target.resolve())


def st_onnx_folder(model_dir: Path, onnx_file: Path, dest: Path) -> tuple[Path, str]:
    """A sentence-transformers folder (config, tokenizer, modules) whose onnx/model.onnx is `onnx_file`."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        if item.name not in _WEIGHTS:
            _link(item, dest / item.name)
    (dest / "onnx").mkdir(exist_ok=True)
    _link(onnx_file, dest / "onnx" / "model.onnx")
    return dest, "onnx/model.onnx"


def fastembed_folder(model_dir: Path, onnx_file: Path, dest: Path, max_length: int) -> Path:
    """model.onnx + tokenizer files; tokenizer_config's model_max_length set to the model's max_seq_length."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in FASTEMBED_FILES:
        _link(model_dir / name, dest / name)
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["model_max_length"] = max_length
    target = dest / "tokenizer_config.json"
    if target.is_symlink():
        target.unlink()
    target.write_text(json.dumps(config), encoding="utf-8")
    _link(onnx_file, dest / "model.onnx")
    return dest
