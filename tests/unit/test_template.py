"""template.yaml passes `sam validate --lint` offline, with a cfn-lint that still runs the SAM transform.

cfn-lint >= 1.54 no longer transforms SAM templates, so the dev venv's `sam validate --lint` passes nearly
anything; scripts/setup_tools.sh installs aws-sam-cli with cfn-lint 1.53.3 into .tools/sam. The broken
copies prove the linter is live: a check that passes everything would pass them too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.cfn_template import load_template

REPO = Path(__file__).resolve().parents[2]
SAM = REPO / ".tools" / "sam" / "bin" / "sam"
TEMPLATE = REPO / "template.yaml"


def _sam_validate(template: Path) -> subprocess.CompletedProcess[str]:
    if not SAM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SAM} missing: run scripts/setup_tools.sh before the tests")
        pytest.skip(f"{SAM} missing: run scripts/setup_tools.sh")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [str(SAM), "validate", "--lint", "--template", str(template)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=template.parent,
    )


def test_template_passes_sam_validate_lint() -> None:
    result = _sam_validate(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("AuthType: !Ref AuthType", "AuthType: AWS_IAMX", "AuthType"),
        ("Architectures: [!Ref Architecture]", "Architectures: [arm65]", "arm65"),
        ("EdgeEncodersFunctionUrl.FunctionUrl", "EdgeEncodersFunctionUrI.FunctionUrl", "EdgeEncodersFunctionUrI"),
    ],
)
def test_broken_copies_fail(tmp_path: Path, old: str, new: str, expect: str) -> None:
    text = TEMPLATE.read_text()
    assert old in text
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(old, new))
    result = _sam_validate(broken)
    assert result.returncode != 0 and expect in result.stdout + result.stderr, result.stdout


def test_template_contract() -> None:
    """What the README and the handler rely on: names, defaults, and the image settings."""
    template = load_template()
    params = template["Parameters"]
    assert params["AuthType"]["Default"] == "AWS_IAM" and params["AuthType"]["AllowedValues"] == ["AWS_IAM", "NONE"]
    assert params["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert params["BundleS3Uri"]["Default"] == ""
    assert {"MemorySize", "Timeout", "ApiKeySsmParameter", "ApiKeySecretId", "LogRetentionInDays"} <= set(params)
    function = template["Resources"]["EdgeEncodersFunction"]
    assert function["Properties"]["PackageType"] == "Image"
    assert function["Metadata"]["Dockerfile"] == "Dockerfile.lambda"
    env = function["Properties"]["Environment"]["Variables"]
    assert {"EDGE_BUNDLE_S3_URI", "EDGE_API_KEY_SSM_PARAMETER", "EDGE_API_KEY_SECRET_ID"} <= set(env)
    assert "FunctionUrl" in template["Outputs"]
    assert template["Resources"]["EdgeEncodersLogGroup"]["Type"] == "AWS::Logs::LogGroup"
