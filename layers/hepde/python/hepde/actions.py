"""Action messages: what a channel asks the on-prem condor bridge to do, and what the bridge reports back.

Decisions are made in AWS; schedds and collectors are on-prem behind firewalls.  A publisher turns a
decision into *actions* and sends each as one SQS message; the bridge (``de-bridge``) long-polls the
queue, performs the action exactly once and reports an :class:`ActionResult`.

The message body is the JSON of one action model, discriminated by ``kind``:

=============  ===================================================================================
``submit``     :class:`SubmitPilots` — queue ``count`` jobs of one submit description on a schedd
``remove``     :class:`ActOnPilots` — remove / hold / release the jobs a ClassAd constraint selects
``hold``
``release``
``advertise``  :class:`AdvertiseAds` — UPDATE_AD_GENERIC of ``glideclient``/``glideclientglobal`` ads
``invalidate`` :class:`InvalidateAds` — INVALIDATE_ADS_GENERIC of the ads a constraint selects
``export``     :class:`ExportJobs` — Lumberjack: export listed user jobs and submit the batch job
               that runs them in an HPC allocation (a personal condor over the exported queue)
``import``     :class:`ImportResults` — Lumberjack: import the results of an export whose batch
               job has ended
=============  ===================================================================================

A ``submit`` may name a ``user_job``: the batch job *is* that user's job (direct MPI submission);
the bridge takes the user job over (``Managed = "External"``) and mirrors the batch job's state onto it.

Every action carries an idempotency ``key``.  Delivery is at-least-once (SQS, publisher retries); the
bridge makes the *effect* exactly-once: it keeps a durable ledger of keys and stamps the key on the
jobs it creates (job attribute :data:`KEY_ATTR`), so a redelivered action — or one whose bridge died
between submitting and acknowledging — is checked against the schedd before anything is done again.
Keys are derived from the decision (:func:`idempotency_key`), so a retried publisher sends the same
keys and its duplicates are absorbed too.

Versioning: ``schema_version`` is 1.  A reader refuses versions newer than its own with a
:class:`MalformedActionError` (the bridge dead-letters the message with that reason); additive,
optional fields do not bump the version, nor do new kinds (``export``/``import`` and
``submit.user_job`` were added within version 1: a bridge older than them dead-letters such a message
with the reason — it does not guess).  Unknown fields are an error.

No field carries a secret: schedds and collectors are named by the bridge's *logical* names
(``schedd: "pilots"``), which its own configuration maps to hosts and authentication.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from hepde.errors import DEError

ACTION_SCHEMA_VERSION: Final = 1

#: job attributes the bridge stamps on every job it creates
KEY_ATTR = "HepdeActionKey"
TARGET_ATTR = "HepdeTarget"
ROUTE_ATTR = "HepdeRoute"
CHANNEL_ATTR = "HepdeChannel"
NODES_ATTR = "HepdeNodes"
#: on a batch job that runs a user's job itself (MPI): ``<user schedd>#<ClusterId>.<ProcId>``
USER_JOB_ATTR = "HepdeUserJob"
#: on a user job the bridge took over: the key of the action whose batch job runs it
MANAGED_BY_ATTR = "HepdeManagedBy"
#: on a user job: how many times the bridge gave it back after a batch job that ran it ended unfinished
ATTEMPTS_ATTR = "HepdeAttempts"
STAMPED_ATTRS = (
    KEY_ATTR,
    TARGET_ATTR,
    ROUTE_ATTR,
    CHANNEL_ATTR,
    USER_JOB_ATTR,
    MANAGED_BY_ATTR,
    ATTEMPTS_ATTR,
)

#: DataBlock record kinds (namespace ``channel:<channel>``, ident :func:`record_ident`)
SENT_RECORD = "bridge_action"  # written by the publisher: what was asked, and whether it was sent
RESULT_RECORD = "bridge_result"  # written by the bridge: what happened

#: result statuses.  ``done``/``already_done``: the effect exists, exactly once.  ``failed``,
#: ``expired``, ``dead_lettered``: the effect does not exist (the daemon refused, the action was too
#: old, or it was malformed/impossible).  ``unknown``: the bridge gave up while the daemon was
#: unreachable after it had tried the effect — a submit's jobs may exist; the next snapshot taken
#: after the result tells (their key is stamped on them)
DONE: Final = "done"
ALREADY_DONE: Final = "already_done"
FAILED: Final = "failed"
EXPIRED: Final = "expired"
DEAD_LETTERED: Final = "dead_lettered"
UNKNOWN: Final = "unknown"
RESULT_STATUSES = (DONE, ALREADY_DONE, FAILED, EXPIRED, DEAD_LETTERED, UNKNOWN)
#: statuses after which the effect certainly does not exist
NO_EFFECT = (FAILED, EXPIRED, DEAD_LETTERED)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
_SUBMIT_KEY = re.compile(r"^(\+|[Mm][Yy]\.)?[A-Za-z_][A-Za-z0-9_.]*$")
#: submit commands the cloud may not set: they would escape the bridge's control of the local host
FORBIDDEN_SUBMIT_COMMANDS = frozenset({"queue", "include", "use", "getenv", "+owner", "my.owner", "owner"})
MAX_SUBMIT_COUNT = 10_000
#: jobs one Lumberjack export may carry
MAX_EXPORT_JOBS = 5_000
_JOB_ID = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")
AD_TYPES = ("glideclient", "glideclientglobal", "glideclientmonitor")


#: bytes an action's ads may take so the message fits SQS's 256 KiB with room for the envelope
ACTION_ADS_MAX_BYTES = 224 * 1024


def chunk_ads(ads: list[dict[str, Any]], max_bytes: int = ACTION_ADS_MAX_BYTES) -> list[list[dict[str, Any]]]:
    """Split ads into chunks whose JSON fits one action message (glideclient ads are KBs each)."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for ad in ads:
        n = len(json.dumps(ad, separators=(",", ":"), default=str).encode()) + 1
        if n > max_bytes:
            raise ValueError(
                f"ad {ad.get('Name')!r} alone is {n} bytes, more than one message may carry ({max_bytes})"
            )
        if current and size + n > max_bytes:
            chunks.append(current)
            current, size = [], 0
        current.append(ad)
        size += n
    if current:
        chunks.append(current)
    return chunks


class MalformedActionError(DEError):
    """A message is not a valid action of a supported schema version; the bridge dead-letters it."""


def idempotency_key(channel: str, generation: int, *parts: Any) -> str:
    """A deterministic key for one action of one decision: same decision → same key."""
    text = json.dumps([channel, int(generation), *[str(p) for p in parts]], separators=(",", ":"))
    return f"de-{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def record_ident(created_at: float, key: str) -> str:
    """Ident of an action's DataBlock records: ordered by the action's creation time, then key."""
    return f"{int(max(0.0, created_at) * 1000):015d}-{key}"


def check_classad_expression(expr: str, what: str = "expression") -> str:
    """Parse ``expr`` with ``classad2``; raise ``ValueError`` naming ``what`` if it is not a ClassAd expression.

    Where the ``htcondor`` wheel is not installed the check is skipped (the bridge re-checks).
    """
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"{what} must be a non-empty ClassAd expression")
    try:
        import classad2
    except ImportError:  # pragma: no cover - the layer ships the wheel; the bridge always has it
        return expr
    try:
        classad2.ExprTree(expr)
    except Exception as exc:  # classad2 raises its own ClassAdException
        raise ValueError(f"{what} {expr!r} is not a valid ClassAd expression: {exc}") from None
    return expr


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = ACTION_SCHEMA_VERSION
    key: str
    channel: str = Field(min_length=1, max_length=256)
    generation: int = Field(default=0, ge=0)
    created_at: float = Field(default_factory=time.time)
    #: after this time (Unix seconds) the bridge does not act; it reports ``expired`` (None: never)
    expires_at: float | None = None
    #: why the decision was made, for the audit trail
    reason: str = Field(default="", max_length=2000)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _KEY.match(v):
            raise ValueError("must be 8-128 characters of letters, digits, '.', '_', ':' or '-'")
        return v

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at


def _check_name(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError("must be a logical name of letters, digits and . _ @ : -")
    return v


def check_description(d: dict[str, str]) -> dict[str, str]:
    """A submit description an action may carry: submit commands and ``+Attr``/``MY.Attr`` only, none
    of :data:`FORBIDDEN_SUBMIT_COMMANDS`, none of the attributes the bridge stamps."""
    if not d:
        raise ValueError("must not be empty")
    for k in d:
        if not _SUBMIT_KEY.match(k):
            raise ValueError(f"{k!r} is not a submit command or +Attribute")
        if k.lower() in FORBIDDEN_SUBMIT_COMMANDS:
            raise ValueError(f"submit command {k!r} is not allowed in an action")
        bare = k.lstrip("+")
        bare = bare[3:] if bare.lower().startswith("my.") else bare
        if bare in STAMPED_ATTRS:
            raise ValueError(f"attribute {bare!r} is stamped by the bridge and may not be set")
    return d


def check_job_ids(ids: list[str]) -> list[str]:
    bad = [i for i in ids if not _JOB_ID.match(i)]
    if bad:
        raise ValueError(f"not job ids 'ClusterId.ProcId': {bad[:5]}")
    if len(set(ids)) != len(ids):
        raise ValueError("job ids must be unique")
    return ids


class UserJob(BaseModel):
    """A user's job the batch job runs itself: ``job`` (``ClusterId.ProcId``) on the bridge's
    schedd ``schedd``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedd: str
    job: str = Field(pattern=_JOB_ID.pattern)

    _name = field_validator("schedd")(_check_name)

    @property
    def ident(self) -> str:
        return f"{self.schedd}#{self.job}"


class SubmitPilots(_Action):
    """Queue ``count`` jobs of one submit description, as one cluster, on the bridge's schedd ``schedd``.

    With ``user_job`` the one batch job runs that user job itself (direct MPI submission): the bridge
    takes the user job over before it submits (``Managed = "External"``, :data:`MANAGED_BY_ATTR`) and
    mirrors the batch job's status onto it until it ends.
    """

    kind: Literal["submit"] = "submit"
    schedd: str
    count: int = Field(ge=1, le=MAX_SUBMIT_COUNT)
    #: submit commands (``universe``, ``grid_resource``, ``+Attr``...), values as in a submit file
    description: dict[str, str]
    target: str = ""
    route: str = ""
    user_job: UserJob | None = None

    _name = field_validator("schedd")(_check_name)
    _description = field_validator("description")(check_description)

    @model_validator(mode="after")
    def _one_for_a_user_job(self) -> SubmitPilots:
        if self.user_job is not None and self.count != 1:
            raise ValueError("a submit that runs a user_job is one batch job (count 1)")
        return self


class ExportJobs(_Action):
    """Lumberjack: export ``jobs`` of the bridge's user schedd ``schedd`` (stamped with the key) into
    ``<export root>/<key>`` with ``Iwd`` ``<spool_dir>/<key>``, and submit on ``pool_schedd`` the
    batch job (``description``) that runs them inside an HPC allocation — each half once."""

    kind: Literal["export"] = "export"
    schedd: str
    jobs: list[str] = Field(min_length=1, max_length=MAX_EXPORT_JOBS)
    #: the bridge's schedd that submits the in-allocation pool
    pool_schedd: str
    #: the directory the exported jobs run in, inside the allocation (absolute)
    spool_dir: str = Field(pattern=r"^/[^\s]*$")
    description: dict[str, str]
    target: str = ""
    route: str = ""
    #: nodes of the batch job (for the allocation's accounting)
    nodes: int = Field(default=1, ge=1)

    _names = field_validator("schedd", "pool_schedd")(_check_name)
    _description = field_validator("description")(check_description)
    _jobs = field_validator("jobs")(check_job_ids)


class ImportResults(_Action):
    """Lumberjack: import into user schedd ``schedd`` what the in-allocation pool of the export
    ``export_key`` left, and give its jobs back (the batch job has ended)."""

    kind: Literal["import"] = "import"
    schedd: str
    export_key: str
    target: str = ""
    route: str = ""

    _name = field_validator("schedd")(_check_name)

    @field_validator("export_key")
    @classmethod
    def _export_key(cls, v: str) -> str:
        return _Action._key(v)


class ActOnPilots(_Action):
    """Remove, hold or release the jobs of schedd ``schedd`` that ``constraint`` selects.

    Only jobs the bridge created (those with :data:`KEY_ATTR`) are ever touched; if more than
    ``max_jobs`` match, nothing is done and the action fails (protection against mass removal).
    """

    kind: Literal["remove", "hold", "release"]
    schedd: str
    constraint: str
    max_jobs: int = Field(default=1000, ge=1, le=100_000)

    _name = field_validator("schedd")(_check_name)

    @field_validator("constraint")
    @classmethod
    def _constraint(cls, v: str) -> str:
        return check_classad_expression(v, "constraint")


Scalar = str | int | float | bool


class AdvertiseAds(_Action):
    """UPDATE_AD_GENERIC ``ads`` of type ``ad_type`` at the bridge's collector ``collector``.

    Attribute values are literals; a value ``{"expr": "..."}`` is a ClassAd expression.
    """

    kind: Literal["advertise"] = "advertise"
    collector: str
    ad_type: Literal["glideclient", "glideclientglobal", "glideclientmonitor"]
    ads: list[dict[str, Scalar | dict[str, str]]] = Field(min_length=1, max_length=5000)

    _name = field_validator("collector")(_check_name)

    @field_validator("ads")
    @classmethod
    def _ads(cls, ads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, ad in enumerate(ads):
            if not isinstance(ad.get("Name"), str) or not ad["Name"]:
                raise ValueError(f"ad {i} has no Name")
            for attr, value in ad.items():
                if isinstance(value, dict):
                    if set(value) != {"expr"}:
                        raise ValueError(f"ad {i} attribute {attr}: an expression is {{'expr': '...'}}")
                    check_classad_expression(value["expr"], f"ad {i} attribute {attr}")
        return ads


class InvalidateAds(_Action):
    """INVALIDATE_ADS_GENERIC: withdraw the ``ad_type`` ads that ``constraint`` selects at ``collector``."""

    kind: Literal["invalidate"] = "invalidate"
    collector: str
    ad_type: Literal["glideclient", "glideclientglobal", "glideclientmonitor"]
    constraint: str

    _name = field_validator("collector")(_check_name)

    @field_validator("constraint")
    @classmethod
    def _constraint(cls, v: str) -> str:
        return check_classad_expression(v, "constraint")


AnyAction = SubmitPilots | ActOnPilots | AdvertiseAds | InvalidateAds | ExportJobs | ImportResults
Action = Annotated[AnyAction, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)


def parse_action(body: str | bytes) -> AnyAction:
    """Parse one message body; raise :class:`MalformedActionError` with a readable reason."""
    try:
        raw = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise MalformedActionError(f"message body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedActionError(f"message body is a JSON {type(raw).__name__}, expected an object")
    version = raw.get("schema_version", ACTION_SCHEMA_VERSION)
    if not isinstance(version, int) or version > ACTION_SCHEMA_VERSION or version < 1:
        raise MalformedActionError(
            f"unsupported action schema_version {version!r} (this reader understands 1..{ACTION_SCHEMA_VERSION})"
        )
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "action"
            parts.append(f"{loc}: {err['msg']}")
        raise MalformedActionError("invalid action: " + "; ".join(parts)) from None


def key_of(body: str | bytes) -> str | None:
    """The idempotency key of a message body if one can be read, even from a malformed action."""
    try:
        raw = json.loads(body)
    except (ValueError, TypeError):
        return None
    key = raw.get("key") if isinstance(raw, dict) else None
    return key if isinstance(key, str) and _KEY.match(key) else None


class ActionResult(BaseModel):
    """What the bridge did with one action; stored as a ``bridge_result`` record and/or sent to a reply queue."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = ACTION_SCHEMA_VERSION
    key: str
    kind: str = ""
    channel: str = ""
    generation: int = 0
    #: the action's ``created_at`` (orders the result records with the sent ones)
    created_at: float = 0.0
    status: Literal["done", "already_done", "failed", "expired", "dead_lettered", "unknown"]
    detail: str = ""
    #: jobs created (submit) or affected (remove/hold/release); ads advertised
    jobs: int = 0
    clusters: list[int] = Field(default_factory=list)
    schedd: str = ""
    target: str = ""
    route: str = ""
    bridge: str = ""
    attempts: int = 1
    at: float = Field(default_factory=time.time)

    @property
    def effective(self) -> bool:
        """True when the action's effect exists (done now or found done before)."""
        return self.status in (DONE, ALREADY_DONE)
