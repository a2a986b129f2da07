"""boto3 clients with bounded waits: connect/read timeouts and a retry cap that fit Lambda's 10 s init.

Why: botocore's defaults (60 s connect, 60 s read, several retries) let one unreachable endpoint (a VPC with
no route or endpoint for S3, SSM or Secrets Manager) hang init until Lambda kills it at 10 s, with no message.
With these, an unreachable service fails in a few seconds with an error that names it. boto3 is imported
here only when a client is asked for: the runtime itself never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    """Time limits of one service's calls; worst case about max_attempts * (connect + read) + backoff."""

    connect_timeout_s: float
    read_timeout_s: float
    max_attempts: int  # total tries, the first included ("standard" retry mode)

    def worst_case_s(self) -> float:
        """Longest a failing call can take: every attempt times out, plus standard mode's backoff (<= 1 s)."""
        return self.max_attempts * (self.connect_timeout_s + self.read_timeout_s) + (self.max_attempts - 1) * 1.0


# SSM / Secrets Manager: one small call each at init. Worst case 2 * (1.5 + 2) s + 1 s backoff = 8 s.
SMALL_CALLS = Budget(connect_timeout_s=1.5, read_timeout_s=2.0, max_attempts=2)
# S3: read_timeout bounds each socket read of a download, not the whole file. An unreachable S3 (connect
# timeouts) fails in 3 * 1.5 s + 2 s backoff.
S3 = Budget(connect_timeout_s=1.5, read_timeout_s=5.0, max_attempts=3)

BUDGETS = {"s3": S3, "ssm": SMALL_CALLS, "secretsmanager": SMALL_CALLS}


def client_config(service: str) -> Any:
    """The botocore Config for a service's client (SMALL_CALLS for services not listed)."""
    from botocore.config import Config

    budget = BUDGETS.get(service, SMALL_CALLS)
    return Config(
        connect_timeout=budget.connect_timeout_s,
        read_timeout=budget.read_timeout_s,
        retries={"total_max_attempts": budget.max_attempts, "mode": "standard"},
    )


def client(service: str) -> Any:
    """boto3.client(service) with this module's time limits."""
    import boto3

    make: Any = boto3.client  # typed per service name in boto3-stubs; the name is a variable here
    return make(service, config=client_config(service))
