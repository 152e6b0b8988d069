"""A faithful in-memory schedd and collector, for tests and ``de-bridge --fake`` demos.

No real schedd or collector can run on every machine that runs the tests.  These keep real
``classad2.ClassAd`` objects and evaluate every constraint with ``classad2`` (three-valued logic:
only ``true`` matches, ``undefined`` and ``error`` do not), so routing, check-before-act and
invalidation constraints behave as against a real daemon.  What they model:

* :class:`FakeSchedd` — a submit description (parsed and normalised by ``htcondor2.Submit``) becomes
  one cluster of ``count`` job ads in one transaction (all or nothing), with the attributes
  ``condor_submit`` would set for the commands the bridge uses (universe, executable, arguments,
  ``grid_resource``, ``request_*``, ``batch_*``, ``+Attr``/``MY.Attr``, output/error/log with
  ``$(Cluster)``/``$(Process)``); job states IDLE → RUNNING → COMPLETED, HELD/RELEASE, REMOVED, with
  ``EnteredCurrentStatus``; removed and completed jobs go to the history.  Fault switches:
  ``down`` (unreachable), ``refuse`` (answers and refuses N submits, or all), ``lose_reply``
  (commits the submit, then the reply is lost).
* :class:`FakeCollector` — ``UPDATE_AD_GENERIC`` stores an ad under (``MyType``, ``Name``),
  replacing an older one; ``INVALIDATE_ADS_GENERIC`` with a query ad (``TargetType``,
  ``Requirements``) removes the matching ads; queries by ad type and constraint; ``down`` switch.

Not modelled: negotiation/matchmaking, the grid manager (grid jobs stay IDLE until a test starts
them), file transfer, job routers, daemon-side limits other than the fault switches.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hepde.condor.adapter import (
    COMPLETED,
    HELD,
    IDLE,
    REMOVED,
    RUNNING,
    CondorRefusedError,
    CondorUnavailableError,
    SubmitOutcome,
    ad_to_dict,
    to_classad,
)

UNIVERSES = {
    "vanilla": 5,
    "standard": 1,
    "scheduler": 7,
    "grid": 9,
    "java": 10,
    "parallel": 11,
    "local": 12,
    "vm": 13,
    "docker": 5,
    "container": 5,
}
GRID_TYPES = ("condor", "batch", "arc", "ec2", "gce", "azure", "nordugrid", "pbs", "lsf", "sge", "slurm")
#: submit command → (job attribute, how the value is stored: "expr" parsed as ClassAd, "str" literal string)
COMMANDS: dict[str, tuple[str, str]] = {
    "executable": ("Cmd", "str"),
    "arguments": ("Arguments", "str"),
    "grid_resource": ("GridResource", "str"),
    "request_cpus": ("RequestCpus", "expr"),
    "request_memory": ("RequestMemory", "expr"),
    "request_disk": ("RequestDisk", "expr"),
    "request_gpus": ("RequestGPUs", "expr"),
    "requirements": ("Requirements", "expr"),
    "batch_queue": ("BatchQueue", "str"),
    "batch_project": ("BatchProject", "str"),
    "batch_runtime": ("BatchRuntime", "expr"),
    "batch_extra_submit_args": ("BatchExtraSubmitArgs", "str"),
    "output": ("Out", "str"),
    "error": ("Err", "str"),
    "log": ("UserLog", "str"),
    "accounting_group": ("AcctGroup", "str"),
    "periodic_remove": ("PeriodicRemove", "expr"),
    "periodic_hold": ("PeriodicHold", "expr"),
    "x509userproxy": ("x509userproxy", "str"),
    "use_oauth_services": ("OAuthServicesNeeded", "str"),
    "transfer_executable": ("TransferExecutable", "expr"),
    "should_transfer_files": ("ShouldTransferFiles", "str"),
    "when_to_transfer_output": ("WhenToTransferOutput", "str"),
    "notification": ("JobNotification", "str"),
    "job_max_vacate_time": ("JobMaxVacateTime", "expr"),
}
_MACRO = re.compile(r"\$\((Cluster|ClusterId|Process|ProcId)\)", re.I)


def _expr(text: str) -> Any:
    import classad2

    try:
        return classad2.ExprTree(text)
    except Exception as exc:
        raise CondorRefusedError(f"cannot parse {text!r} as a ClassAd expression: {exc}") from exc


def _compile(constraint: str | None) -> Any:
    return _expr(constraint if constraint and str(constraint).strip() else "true")


def _matches(expr: Any, ad: Any) -> bool:
    try:
        return expr.eval(ad) is True
    except Exception:  # noqa: BLE001 - an evaluation error does not match, as in the schedd
        return False


class FakeSchedd:
    """An in-memory schedd with real ClassAds; see the module docstring."""

    def __init__(
        self,
        name: str = "fake-schedd",
        *,
        owner: str = "bridge",
        clock: Callable[[], float] = time.time,
        first_cluster: int = 1,
    ) -> None:
        self.name = name
        self.owner = owner
        self.clock = clock
        self.jobs: dict[tuple[int, int], Any] = {}
        self.history_ads: list[Any] = []
        self._next_cluster = itertools.count(first_cluster)
        self._lock = threading.RLock()
        # fault switches
        self.down = False
        self.refuse = 0  # refuse this many submits (-1: every submit)
        self.refuse_message = "SCHEDD_REFUSED: MAX_JOBS_PER_OWNER exceeded"
        self.lose_reply = 0  # commit this many submits, then raise as if the reply were lost
        # what happened, for tests
        self.submit_calls = 0
        self.submitted_clusters: list[int] = []

    # -- faults -------------------------------------------------------------------------------
    def _check_up(self, what: str) -> None:
        if self.down:
            raise CondorUnavailableError(
                f"schedd {self.name} {what}: Failed to connect to schedd (fake: down)"
            )

    # -- Schedd protocol -----------------------------------------------------------------------
    def submit(self, description: Mapping[str, str], count: int) -> SubmitOutcome:
        import htcondor2

        with self._lock:
            self.submit_calls += 1
            self._check_up("submit")
            if self.refuse:
                if self.refuse > 0:
                    self.refuse -= 1
                raise CondorRefusedError(f"schedd {self.name} submit: {self.refuse_message}")
            if count < 1:
                raise CondorRefusedError("count must be at least 1")
            try:
                sub = htcondor2.Submit(dict(description))
            except Exception as exc:
                raise CondorRefusedError(f"invalid submit description: {exc}") from exc
            template = self._job_template(dict(sub.items()))
            cluster = next(self._next_cluster)
            now = int(self.clock())
            created = {}
            for proc in range(count):
                ad = to_classad({})
                for key, value in template.items():
                    ad[key] = _expand(value, cluster, proc)
                ad.update(
                    {
                        "ClusterId": cluster,
                        "ProcId": proc,
                        "JobStatus": IDLE,
                        "QDate": now,
                        "EnteredCurrentStatus": now,
                        "Owner": self.owner,
                        "GlobalJobId": f"{self.name}#{cluster}.{proc}#{now}",
                    }
                )
                created[(cluster, proc)] = ad
            self.jobs.update(created)  # the transaction commits: all procs or none
            self.submitted_clusters.append(cluster)
            if self.lose_reply:
                self.lose_reply -= 1
                raise CondorUnavailableError(
                    f"schedd {self.name} submit: connection reset by peer after commit (fake)"
                )
            return SubmitOutcome(cluster=cluster, procs=count)

    def _job_template(self, commands: dict[str, str]) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in commands.items()}
        universe = lower.get("universe", "vanilla").strip().lower()
        if universe not in UNIVERSES:
            raise CondorRefusedError(f"ERROR: I don't know about the '{universe}' universe.")
        if not lower.get("executable"):
            raise CondorRefusedError("ERROR: No 'executable' parameter was provided")
        ad: dict[str, Any] = {
            "JobUniverse": UNIVERSES[universe],
            "RequestCpus": 1,
            "RequestMemory": 128,
            "RequestDisk": 1024,
            "Requirements": _expr("true"),
        }
        if universe == "grid":
            resource = lower.get("grid_resource", "").strip()
            if not resource:
                raise CondorRefusedError("ERROR: grid_resource must be specified for the grid universe")
            if resource.split()[0].lower() not in GRID_TYPES:
                raise CondorRefusedError(
                    f"ERROR: Invalid value for grid_resource: unknown grid type in {resource!r}"
                )
        for key, value in commands.items():
            low = key.lower()
            if low == "universe":
                continue
            if low.startswith("my.") or low.startswith("+"):
                attr = key[3:] if low.startswith("my.") else key[1:]
                ad[attr] = _expr(value)
            elif low in COMMANDS:
                attr, how = COMMANDS[low]
                ad[attr] = _expr(value) if how == "expr" else value
            # other commands (macros, file transfer details...) do not become attributes here
        return ad

    def query(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._check_up("query")
            expr = _compile(constraint)
            out = []
            for key in sorted(self.jobs):
                ad = self.jobs[key]
                if _matches(expr, ad):
                    out.append(ad_to_dict(ad, projection))
                    if 0 <= limit <= len(out):
                        break
            return out

    def history(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._check_up("history")
            expr = _compile(constraint)
            out = []
            for ad in reversed(self.history_ads):  # newest first, as condor_history
                if _matches(expr, ad):
                    out.append(ad_to_dict(ad, projection))
                    if 0 <= limit <= len(out):
                        break
            return out

    def act(self, action: str, constraint: str, reason: str = "") -> int:
        with self._lock:
            self._check_up(action)
            expr = _compile(constraint)
            changed = 0
            for key in sorted(self.jobs):
                ad = self.jobs[key]
                if not _matches(expr, ad):
                    continue
                status = ad.eval("JobStatus")
                if action == "remove" and status not in (REMOVED, COMPLETED):
                    self._set_status(key, REMOVED, RemoveReason=reason or "removed")
                    changed += 1
                elif action == "hold" and status in (IDLE, RUNNING):
                    self._set_status(key, HELD, HoldReason=reason or "held")
                    changed += 1
                elif action == "release" and status == HELD:
                    self._set_status(key, IDLE)
                    changed += 1
            return changed

    # -- the test's side: what the grid manager and the pilots would do ------------------------------
    def _set_status(self, key: tuple[int, int], status: int, **attrs: Any) -> None:
        ad = self.jobs[key]
        ad["JobStatus"] = status
        ad["EnteredCurrentStatus"] = int(self.clock())
        for k, v in attrs.items():
            ad[k] = v
        if status in (REMOVED, COMPLETED):
            self.history_ads.append(self.jobs.pop(key))

    def set_status(self, constraint: str, status: int, limit: int = -1, **attrs: Any) -> int:
        """Move the jobs ``constraint`` selects (at most ``limit``) to ``status``; return how many."""
        with self._lock:
            expr = _compile(constraint)
            keys = [k for k in sorted(self.jobs) if _matches(expr, self.jobs[k])]
            if limit >= 0:
                keys = keys[:limit]
            for key in keys:
                self._set_status(key, status, **attrs)
            return len(keys)

    def add_jobs(self, ads: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
        """Put ready-made job ads in the queue (a user's jobs); ClusterId/ProcId assigned if missing."""
        with self._lock:
            keys = []
            now = int(self.clock())
            for raw in ads:
                ad = to_classad(raw)
                cluster = int(raw["ClusterId"]) if "ClusterId" in raw else next(self._next_cluster)
                proc = int(raw.get("ProcId", 0))
                defaults = {
                    "ClusterId": cluster,
                    "ProcId": proc,
                    "JobStatus": IDLE,
                    "QDate": now,
                    "EnteredCurrentStatus": now,
                    "Owner": raw.get("Owner", self.owner),
                }
                for k, v in defaults.items():
                    if k not in raw:
                        ad[k] = v
                self.jobs[(cluster, proc)] = ad
                keys.append((cluster, proc))
            return keys

    def count(self, constraint: str = "true") -> int:
        with self._lock:
            expr = _compile(constraint)
            return sum(1 for ad in self.jobs.values() if _matches(expr, ad))


def _expand(value: Any, cluster: int, proc: int) -> Any:
    if isinstance(value, str) and "$(" in value:
        return _MACRO.sub(lambda m: str(cluster if m.group(1).lower().startswith("cluster") else proc), value)
    return value


class FakeCollector:
    """An in-memory collector with real ClassAds; see the module docstring."""

    STARTD_TYPES = ("Machine", "Slot")

    def __init__(self, name: str = "fake-collector") -> None:
        self.name = name
        self.ads: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        self.down = False
        self.advertise_calls = 0

    def _check_up(self, what: str) -> None:
        if self.down:
            raise CondorUnavailableError(f"collector {self.name} {what}: Failed to connect (fake: down)")

    def advertise(self, ads: Sequence[Mapping[str, Any]], command: str = "UPDATE_AD_GENERIC") -> None:
        with self._lock:
            self.advertise_calls += 1
            self._check_up(command)
            if command in ("UPDATE_AD_GENERIC", "UPDATE_STARTD_AD"):
                staged = {}
                for raw in ads:
                    ad = to_classad(raw)
                    mytype, name = ad.get("MyType"), ad.get("Name")
                    if not isinstance(mytype, str) or not isinstance(name, str) or not name:
                        raise CondorRefusedError(f"{command}: an ad needs string MyType and Name attributes")
                    ad["LastHeardFrom"] = int(time.time())
                    staged[(mytype.lower(), name)] = ad
                self.ads.update(staged)
            elif command in ("INVALIDATE_ADS_GENERIC", "INVALIDATE_STARTD_ADS"):
                for raw in ads:
                    query = to_classad(raw)
                    target = str(query.get("TargetType") or "").lower()
                    req = query.get("Requirements")
                    expr = _compile(str(req)) if req is not None else _compile("true")
                    for key in [k for k, ad in self.ads.items() if k[0] == target and _matches(expr, ad)]:
                        del self.ads[key]
            else:
                raise CondorRefusedError(f"unsupported advertise command {command!r}")

    def query(
        self, ad_type: str = "any", constraint: str = "true", projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._check_up("query")
            expr = _compile(constraint)
            out = []
            for (mytype, _), ad in sorted(self.ads.items()):
                if ad_type == "startd" and mytype not in {t.lower() for t in self.STARTD_TYPES}:
                    continue
                if ad_type not in ("any", "startd", "generic") and mytype != ad_type:
                    continue
                if _matches(expr, ad):
                    out.append(ad_to_dict(ad, projection))
            return out

    def names(self, mytype: str) -> list[str]:
        with self._lock:
            return sorted(name for (t, name) in self.ads if t == mytype.lower())
