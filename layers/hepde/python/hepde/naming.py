"""Names of deployed resources, in one place: the SAM template generator, the CLI, the REST API and
the bridge all derive names from here, so they agree without configuration.

``stack`` is the deployment's prefix (the SAM stack name; default ``hepde``).
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"[^A-Za-z0-9-_]")


def safe(name: str) -> str:
    """A channel/source key made safe for AWS resource names (letters, digits, - and _)."""
    return _SAFE.sub("-", name)


def state_machine_name(channel: str, stack: str = "hepde") -> str:
    return f"{stack}-de-{safe(channel)}"[:80]


def channel_schedule_rule(channel: str, stack: str = "hepde") -> str:
    return f"{stack}-cycle-{safe(channel)}"[:64]


def source_schedule_rule(source_key: str, stack: str = "hepde") -> str:
    return f"{stack}-source-{safe(source_key)}"[:64]


def function_name(stage: str, stack: str = "hepde") -> str:
    """Lambda function of a stage: cycle, source, transform, decide, publish."""
    return f"{stack}-{stage}"[:64]


def log_group(stage: str, stack: str = "hepde") -> str:
    return f"/aws/lambda/{function_name(stage, stack)}"


def state_machine_log_group(channel: str, stack: str = "hepde") -> str:
    return f"/aws/vendedlogs/states/{state_machine_name(channel, stack)}"


METRICS_NAMESPACE = "HEPCloudDE"


def table_name(stack: str = "hepde") -> str:
    """The DataBlock table (one per deployment)."""
    return f"{stack}-datablock"


#: CloudFormation output that names the large-products bucket (bucket names are global, so not derived)
BUCKET_OUTPUT = "ProductsBucketName"
