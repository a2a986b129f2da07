"""The e2e harness is edge_devtools.lambda_emulator (shared with `make invoke-local` and `make demo`); its
figures are printed in pytest's terminal summary so they show without -s."""

from __future__ import annotations

from typing import Any

from helpers import e2e_report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if e2e_report.reported:
        terminalreporter.write_sep("-", "Lambda emulator e2e (also in artifacts/e2e.json)")
        for key, value in e2e_report.reported.items():
            terminalreporter.write_line(f"{key}: {value}")
