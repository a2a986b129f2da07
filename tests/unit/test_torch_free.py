"""The serving path never imports the torch side: proven in a fresh interpreter that loads both bundles.

The subprocess builds the Lambda handler exactly as the Lambda runtime does (getattr(handler.app, "handler")),
which loads the models with onnxruntime and serves one event, and then lists what got imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from edge_devtools.torch_side import IMPORTS, torch_side_distributions, torch_side_imports
from helpers.toy_handler import bundle_paths

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import edge_encoders
import handler.app
lambda_handler = handler.app.handler
event = {"version": "2.0", "rawPath": "/health", "headers": {}, "isBase64Encoded": False,
         "requestContext": {"http": {"method": "GET", "path": "/health", "sourceIp": "127.0.0.1"}}}
out = lambda_handler(event, None)
roots = sorted({name.split(".")[0] for name in sys.modules})
print("PROBE" + json.dumps({"status": out["statusCode"], "modules": roots}))
"""


def test_handler_and_runtime_import_no_torch_side_package() -> None:
    embed, rerank = bundle_paths()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDGE_")},
        "EDGE_EMBED_BUNDLE": str(embed),
        "EDGE_RERANK_BUNDLE": str(rerank),
        "EDGE_ACCESS_LOG": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("PROBE", 1)[1])
    assert result["status"] == 200  # the models really loaded: this is not an empty import
    imported = set(result["modules"])
    assert {"onnxruntime", "tokenizers", "edge_encoders", "handler"} <= imported
    assert not torch_side_imports(imported), f"torch-side modules imported: {torch_side_imports(imported)}"
    assert "boto3" not in imported  # only imported lazily, for S3 bundles or SSM/Secrets API keys


def test_lambda_requirements_pin_no_torch_side_package() -> None:
    path = REPO / "requirements" / "lambda.txt"
    assert path.is_file(), "requirements/lambda.txt (what the Lambda image installs) is missing"
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    banned = torch_side_distributions(names)
    assert not banned, f"requirements/lambda.txt pins torch-side packages: {banned}"
    assert {"onnxruntime", "tokenizers", "numpy", "fastapi", "mangum"} <= names


def test_import_linter_forbids_the_same_torch_side_packages() -> None:
    """`make lint`'s static contract and the run-time checks above name the same packages."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    forbidden = [c for c in contracts if c["type"] == "forbidden" and set(c["source_modules"]) >= {"edge_encoders"}]
    assert len(forbidden) == 1, "one forbidden contract covers the runtime"
    assert set(forbidden[0]["forbidden_modules"]) - {"edge_build"} == set(IMPORTS)
