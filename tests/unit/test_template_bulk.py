"""The bulk state machine in template.yaml: structure, wiring and least privilege.

`sam validate --lint` (tests/unit/test_template.py) cannot see inside a SAM state machine definition: SAM
turns it into a Fn::Join string first. So the definition is checked here twice: by cfn-lint's own Amazon
States Language schema (rule E3601, run on the definition as a plain AWS::StepFunctions::StateMachine),
and by the assertions below about what the bulk worker relies on.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.cfn_template import load_template

from edge_encoders.bulk import parse_event

REPO = Path(__file__).resolve().parents[2]
CFN_LINT = REPO / ".tools" / "sam" / "bin" / "cfn-lint"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def machine(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]["BulkEmbedStateMachine"]


SUBSTITUTED = {
    "BulkFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:stack-bulk-embed",
    "InputBucket": "corpus-bucket",
    "InputFormat": "JSONL",
    "OutputBucket": "out-bucket",
    "OutputPrefix": "embeddings",
    "ItemsPerBatch": "500",
    "MaxConcurrency": "50",
    "ToleratedFailurePercentage": "0",
}


def _definition(machine: dict[str, Any], **overrides: str) -> dict[str, Any]:
    """The definition as Step Functions receives it, after CloudFormation's substitutions."""
    text = json.dumps(machine["Properties"]["Definition"])
    for key, value in {**SUBSTITUTED, **overrides}.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text.replace("${AWS::", ""), "a substitution in the definition has no value"
    return json.loads(text)


def _cfn_lint_definition(definition: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not CFN_LINT.is_file():
        pytest.skip(f"{CFN_LINT} missing: run scripts/setup_tools.sh")
    resource = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/r", "Definition": definition},
    }
    path = tmp_path / "machine.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Machine": resource}}))
    return subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("fmt", ["JSONL", "CSV"])
def test_definition_passes_the_states_language_schema(machine: dict[str, Any], tmp_path: Path, fmt: str) -> None:
    result = _cfn_lint_definition(_definition(machine, InputFormat=fmt), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_is_live(machine: dict[str, Any], tmp_path: Path) -> None:
    broken = _definition(machine)
    broken["States"]["EmbedCorpus"]["ItemProcessor"]["StartAt"] = "Nowhere"
    result = _cfn_lint_definition(broken, tmp_path)
    assert result.returncode != 0 and "Nowhere" in result.stdout


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, nested ones included, by name."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]))
    return found


def test_distributed_map_structure(machine: dict[str, Any]) -> None:
    definition = _definition(machine)
    states = _states(definition)
    for scope in (definition, definition["States"]["EmbedCorpus"]["ItemProcessor"]):
        assert scope["StartAt"] in scope["States"]
        for state in scope["States"].values():
            assert state.get("End") is True or state["Next"] in scope["States"]

    embed = states["EmbedCorpus"]
    assert embed["Type"] == "Map"
    assert embed["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert embed["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert embed["ItemReader"]["ReaderConfig"]["InputType"] == "JSONL"
    assert embed["ItemReader"]["Parameters"] == {"Bucket": "corpus-bucket", "Key.$": "$.args.input_key"}
    batcher = embed["ItemBatcher"]
    assert 0 < batcher["MaxInputBytesPerBatch"] <= 256 * 1024  # Step Functions' cap on one batch
    assert batcher["MaxItemsPerBatchPath"] == "$.limits.items_per_batch"
    assert embed["MaxConcurrencyPath"] == "$.limits.max_concurrency"
    assert embed["ToleratedFailurePercentagePath"] == "$.limits.tolerated_failure_percentage"
    limits = states["Prepare"]["Parameters"]["limits"]
    assert limits == {
        "items_per_batch.$": "States.StringToNumber('500')",
        "max_concurrency.$": "States.StringToNumber('50')",
        "tolerated_failure_percentage.$": "States.StringToNumber('0')",
    }
    writer = embed["ResultWriter"]
    assert writer["Resource"] == "arn:aws:states:::s3:putObject"
    assert writer["Parameters"] == {"Bucket": "out-bucket", "Prefix": "embeddings/_step-functions"}

    task = states["EmbedBatch"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"] == {"FunctionName": SUBSTITUTED["BulkFunctionArn"], "Payload.$": "$"}
    throttled = [r for r in task["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
    assert throttled and throttled[0]["BackoffRate"] > 1 and throttled[0]["MaxAttempts"] >= 3
    assert throttled[0].get("JitterStrategy") == "FULL"
    assert any("StoreError" in r["ErrorEquals"] for r in task["Retry"])  # the worker's S3 errors are retried


def test_batch_input_is_what_the_worker_reads(machine: dict[str, Any]) -> None:
    """Evaluate the BatchInput as Step Functions would for one execution input, then parse it as the worker."""
    batch_input = _definition(machine)["States"]["EmbedCorpus"]["ItemBatcher"]["BatchInput"]
    execution = {"input_key": "corpus/a.jsonl", "run": "v1", "options": {"precision": "int8", "dimensions": 128}}
    template_str = batch_input["output.$"]
    match = re.fullmatch(r"States\.Format\('([^']*)', \$\.args\.run\)", template_str)
    assert match, template_str
    evaluated = {"output": match.group(1).replace("{}", execution["run"]), "options": execution["options"]}
    assert batch_input["options.$"] == "$.args.options"
    items, options = parse_event({"Items": [{"id": "1", "text": "a"}], "BatchInput": evaluated})
    assert options.output == "s3://out-bucket/embeddings/v1"
    assert options.precision == "int8" and options.dimensions == 128 and items == [{"id": "1", "text": "a"}]
    defaults = _definition(machine)["States"]["Defaults"]["Result"]
    assert defaults == {"run": "default", "options": {}}  # an execution input without options still works


def test_wiring_condition_and_same_image(template: dict[str, Any], machine: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["EnableBulk"]["Default"] == "false"
    assert {"BulkMaxConcurrency", "BulkToleratedFailurePercentage", "BulkItemsPerBatch", "BulkInputFormat"} <= set(
        params
    )
    assert params["BulkInputFormat"]["AllowedValues"] == ["JSONL", "CSV"]
    resources = template["Resources"]
    bulk = {name: r for name, r in resources.items() if name.startswith("Bulk")}
    assert {"BulkEmbedFunction", "BulkEmbedStateMachine", "BulkEmbedLogGroup"} <= set(bulk)
    assert all(r.get("Condition") == "BulkEnabled" for r in bulk.values())
    assert template["Conditions"]["BulkEnabled"] == {"Fn::Equals": [{"Ref": "EnableBulk"}, "true"]}

    function = resources["BulkEmbedFunction"]
    assert function["Properties"]["ImageConfig"]["Command"] == ["handler.bulk.handler"]
    assert function["Metadata"] == resources["EdgeEncodersFunction"]["Metadata"]  # same Dockerfile, same image
    subs = machine["Properties"]["DefinitionSubstitutions"]
    assert set(subs) == set(SUBSTITUTED)  # the values the tests above substitute are the ones deployed
    assert subs["BulkFunctionArn"] == {"Fn::GetAtt": "BulkEmbedFunction.Arn"}
    assert subs["MaxConcurrency"] == {"Ref": "BulkMaxConcurrency"}
    assert subs["ToleratedFailurePercentage"] == {"Ref": "BulkToleratedFailurePercentage"}

    import handler.bulk

    assert callable(handler.bulk.handler)  # the command the image runs for this function


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in resource["Properties"]["Policies"]:
        out.extend(policy.get("Statement", []))
    return out


def test_least_privilege(template: dict[str, Any], machine: dict[str, Any]) -> None:
    function_statements = _statements(template["Resources"]["BulkEmbedFunction"])
    machine_statements = _statements(machine)
    for statement in function_statements + machine_statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), actions
        resource = statement["Resource"]
        assert isinstance(resource, dict) and "Fn::Sub" in resource, resource  # never a bare "*"
        arn = resource["Fn::Sub"]
        if "s3:ListBucket" in actions:
            assert statement["Condition"]["StringLike"]["s3:prefix"] == {"Fn::Sub": "${BulkOutputPrefix}/*"}
        elif any(a.startswith("s3:") for a in actions):
            assert arn.endswith("/*") and ("${BulkInputPrefix}/" in arn or "${BulkOutputPrefix}/" in arn), arn
    reads = [s for s in machine_statements if s["Action"] == "s3:GetObject"]
    assert [s["Resource"]["Fn::Sub"] for s in reads] == [
        "arn:${AWS::Partition}:s3:::${BulkInputBucket}/${BulkInputPrefix}/*"
    ]
    invoke = [p for p in machine["Properties"]["Policies"] if "LambdaInvokePolicy" in p]
    assert invoke == [{"LambdaInvokePolicy": {"FunctionName": {"Ref": "BulkEmbedFunction"}}}]
