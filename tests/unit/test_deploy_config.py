"""Deploy settings that keep a deploy safe: samconfig.toml's per-architecture envs, the template's refusal of
a public URL without an API key, reserved concurrency and the KMS key wiring.

CloudFormation evaluates the template's Rules at deploy time; nothing offline does, so the rule is evaluated
here by a small interpreter of the intrinsic functions it may use (Ref, Equals, Not, And, Or).
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers.cfn_template import load_template

REPO = Path(__file__).resolve().parents[2]


TEMPLATE_DATA: dict[str, Any] = load_template()


def _evaluate(expr: Any, params: dict[str, str]) -> Any:
    if isinstance(expr, dict):
        ((fn, arg),) = expr.items()
        if fn == "Ref":
            return params[arg]
        args = [_evaluate(a, params) for a in arg]
        if fn == "Fn::Equals":
            return str(args[0]) == str(args[1])
        if fn == "Fn::Not":
            return not args[0]
        if fn == "Fn::Or":
            return any(args)
        if fn == "Fn::And":
            return all(args)
        raise AssertionError(f"the test's interpreter does not know {fn}")
    return expr


def _rules_pass(overrides: dict[str, str]) -> bool:
    params = {name: str(p.get("Default", "")) for name, p in TEMPLATE_DATA["Parameters"].items()}
    params.update(overrides)
    for name, value in overrides.items():
        allowed = TEMPLATE_DATA["Parameters"][name].get("AllowedValues")
        assert allowed is None or value in allowed, (name, value)
    for rule in TEMPLATE_DATA["Rules"].values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], params):
            continue
        if not all(_evaluate(a["Assert"], params) for a in rule["Assertions"]):
            return False
    return True


def test_default_deploy_passes_the_rules() -> None:
    assert _rules_pass({})
    assert TEMPLATE_DATA["Parameters"]["AuthType"]["Default"] == "AWS_IAM"


@pytest.mark.parametrize(
    ("ssm", "secret", "override", "allowed"),
    [
        ("", "", "refuse", False),  # public and free for all: refused
        ("/edge/key", "", "refuse", True),
        ("", "edge-key", "refuse", True),
        ("", "", "allow-anyone-at-my-cost", True),  # said explicitly
    ],
)
def test_public_url_needs_an_api_key_or_the_named_override(ssm: str, secret: str, override: str, allowed: bool) -> None:
    overrides = {
        "AuthType": "NONE",
        "ApiKeySsmParameter": ssm,
        "ApiKeySecretId": secret,
        "PublicUrlWithoutApiKey": override,
    }
    assert _rules_pass(overrides) is allowed


@pytest.mark.parametrize(("ssm", "secret"), list(itertools.product(["", "/k"], ["", "k"])))
def test_iam_auth_never_needs_the_override(ssm: str, secret: str) -> None:
    assert _rules_pass({"AuthType": "AWS_IAM", "ApiKeySsmParameter": ssm, "ApiKeySecretId": secret})


def test_reserved_concurrency_and_kms_key_reach_the_function() -> None:
    props = TEMPLATE_DATA["Resources"]["EdgeEncodersFunction"]["Properties"]
    reserved = props["ReservedConcurrentExecutions"]["Fn::If"]
    assert reserved[0] == "UseReservedConcurrency" and reserved[1] == {"Ref": "ReservedConcurrency"}
    conditions = TEMPLATE_DATA["Conditions"]
    assert not _evaluate(conditions["UseReservedConcurrency"], {"ReservedConcurrency": "-1"})
    assert _evaluate(conditions["UseReservedConcurrency"], {"ReservedConcurrency": "5"})
    kms = props["KmsKeyArn"]["Fn::If"]
    assert kms[0] == "UseKmsKey" and kms[1] == {"Ref": "KmsKeyArn"}
    policy = TEMPLATE_DATA["Resources"]["EdgeEncodersKmsPolicy"]
    assert policy["Condition"] == "UseKmsKey"
    statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == "kms:Decrypt" and statement["Resource"] == {"Ref": "KmsKeyArn"}


@pytest.mark.parametrize(("env", "arch"), [("default", "x86_64"), ("x86_64", "x86_64"), ("arm64", "arm64")])
def test_samconfig_envs_build_and_deploy_their_own_architecture(env: str, arch: str) -> None:
    config = tomllib.loads((REPO / "samconfig.toml").read_text())
    for command in ("build", "deploy"):
        overrides = config[env][command]["parameters"]["parameter_overrides"]
        assert f"Architecture={arch}" in overrides.split(), command
    deploy = config[env]["deploy"]["parameters"]
    assert deploy["resolve_image_repos"] is True and "CAPABILITY_IAM" in deploy["capabilities"]


def test_make_deploy_picks_the_samconfig_env_of_its_architecture() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--config-env $(ARCH)" in makefile  # make deploy ARCH=arm64 uses the arm64 env for build and deploy
