"""The export command's user-facing errors: one line, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from edge_build.cli import main


def test_missing_local_folder_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--embed", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), "--only", "embed"])
    err = capsys.readouterr().err
    assert code == 2
    assert "does not exist" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_variant_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--variants", "fp32,int4", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "int4" in err and "Traceback" not in err


def test_module_entry_point_shows_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge_build", "export", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "--variants" in result.stdout and "--force" in result.stdout


@pytest.mark.parametrize(
    ("option", "needle"),
    [("--out", "is a file"), ("--out-below", "cannot be created"), ("--work-dir", "is a file")],
)
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, needle: str
) -> None:
    """Found at once, not as an unexpected NotADirectoryError after the reference model loaded."""
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    args = {
        "--out": ["--out", str(a_file)],
        "--out-below": ["--out", str(a_file / "bundles")],
        "--work-dir": ["--out", str(tmp_path / "out"), "--work-dir", str(a_file)],
    }[option]
    code = main(["export", "--embed", str(tmp_path / "nope"), "--only", "embed", *args])
    captured = capsys.readouterr()
    assert code == 2 and needle in captured.err and "give a folder" in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "[embed] source" not in captured.out


def test_only_with_the_other_models_source_is_a_conflict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--only", "embed", "--rerank", str(tmp_path), "--rerank-revision", "main"])
    err = capsys.readouterr().err
    assert code == 2 and "--only embed" in err and "--rerank and --rerank-revision would be ignored" in err
    assert len(err.strip().splitlines()) == 1
