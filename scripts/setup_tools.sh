#!/usr/bin/env bash
# Creates .tools/sam: aws-sam-cli + cfn-lint 1.53.3 in a venv of their own, idempotently.
# Why a separate venv: cfn-lint >= 1.54 no longer runs the SAM transform, so `sam validate --lint` with the
# cfn-lint the dev venv resolves to checks almost nothing; 1.53.3 still catches a bad AuthType/Architecture.
# Keeping it apart also keeps sam's pins (Flask, docker, ...) out of the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/sam
SAM_CLI=aws-sam-cli==1.170.0
CFN_LINT=cfn-lint==1.53.3
STAMP="$VENV/.installed"
WANT="$SAM_CLI $CFN_LINT"
if [[ -x "$VENV/bin/sam" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    exit 0
fi
PY="${PYTHON:-python3}"
rm -rf "$VENV"
mkdir -p .tools
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$SAM_CLI" "$CFN_LINT"
echo "$WANT" > "$STAMP"
echo "tools: $("$VENV/bin/sam" --version), cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}') in $VENV"
