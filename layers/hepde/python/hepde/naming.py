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


# -- the on-prem condor bridge (``de-bridge``) ----------------------------------------------------
#: SQS queue names are at most 80 characters
_SQS_MAX = 80


def bridge_actions_queue(bridge: str = "default", stack: str = "hepde") -> str:
    """SQS queue the channels' publishers send actions to and bridge ``bridge`` long-polls."""
    return f"{stack}-bridge-{safe(bridge)}-actions"[:_SQS_MAX]


def bridge_dead_letter_queue(bridge: str = "default", stack: str = "hepde") -> str:
    """Dead-letter queue of the actions queue: malformed or impossible actions, each with its reason
    (written by the bridge), and messages SQS itself redrove after ``maxReceiveCount`` receives."""
    return f"{stack}-bridge-{safe(bridge)}-dlq"[:_SQS_MAX]


def bridge_results_queue(bridge: str = "default", stack: str = "hepde") -> str:
    """Optional reply queue: one message per action result (results always go to the DataBlock too)."""
    return f"{stack}-bridge-{safe(bridge)}-results"[:_SQS_MAX]


#: S3 prefix (in the products bucket) under which the bridge uploads snapshots (``hepde.snapshots``)
SNAPSHOT_PREFIX = "snapshots"


def bridge_results_dead_letter_queue(bridge: str = "default", stack: str = "hepde") -> str:
    """Dead-letter queue of the results queue (results the cloud side could not process)."""
    return f"{stack}-bridge-{safe(bridge)}-results-dlq"[:_SQS_MAX]


# -- deploy: the template generator, dashboards and alarms -----------------------------------------
def dashboard_name(stack: str = "hepde") -> str:
    """The one CloudWatch dashboard of a deployment (a row per channel, the bridge and the sources)."""
    return f"{stack}-decision-engine"


def alarm_name(subject: str, what: str, stack: str = "hepde") -> str:
    """``<stack> <subject>: <what>``, e.g. ``hepde channel example: cycles failed``."""
    return f"{stack} {subject}: {what}"[:255]


def layer_name(kind: str, stack: str = "hepde") -> str:
    """Lambda layer: ``deps`` (third-party packages) or ``lib`` (the hepde library)."""
    return f"{stack}-{kind}"[:64]


def alarm_topic(stack: str = "hepde") -> str:
    """SNS topic every alarm notifies."""
    return f"{stack}-alarms"[:256]


# -- the operations REST API (``hepde.ops.rest``, deployed by ``hepde_tools.deploy.api_part``) ------------
def rest_api_name(stack: str = "hepde") -> str:
    """The API Gateway REST API of the operations API (its function is ``function_name("api")``)."""
    return f"{stack}-operations-api"
