"""A faithful in-memory schedd and collector, for tests and ``de-bridge --fake`` demos.

No real schedd or collector can run on every machine that runs the tests.  These keep real
``classad2.ClassAd`` objects and evaluate every constraint with ``classad2`` (three-valued logic:
only ``true`` matches, ``undefined`` and ``error`` do not), so routing, check-before-act and
invalidation constraints behave as against a real daemon.  They pass the same contract suite as an
HTCondor 25.14 pool (``tests/contract/test_condor_contract.py``; run it against a real pool with
``HEPDE_TEST_POOL=host:port``).  What they model:

* :class:`FakeSchedd` — a submit description (parsed and normalised by ``htcondor2.Submit``) becomes
  one cluster of ``count`` job ads in one transaction (all or nothing; ``count = 0`` is one job, as
  the bindings' "count of the queue statement"), with the attributes the schedd stores for the
  commands the project uses: ``arguments`` as ``Args`` (a new-syntax ``"..."`` value unquoted; only
  what the old syntax cannot hold goes to ``Arguments``), ``hold = true`` (JobStatus 5,
  HoldReasonCode 15), ``notification`` as the integer ``JobNotification``, ``accounting_group`` as
  ``AcctGroup``/``AcctGroupUser``/``AccountingGroup`` (``"group_x."`` when no user is given: the
  bindings, unlike ``condor_submit``, do not add the submitter), ``batch_*`` on grid jobs only,
  the grid types the schedd accepts (``batch``, ``pbs``, ``condor``, ``arc``... — not ``slurm`` or
  ``nordugrid``), ``+Attr``/``MY.Attr``, output/error/log with ``$(Cluster)``/``$(Process)``,
  ``scitokens_file`` as ``ScitokensFile``.  ``Owner`` is the authenticated submitter (``owner``); a
  root submitter is refused as the schedd refuses it.  Job states IDLE → RUNNING → COMPLETED,
  HOLD (HoldReasonCode 1, the reason kept) / RELEASE, REMOVE (``RemoveReason``): a removed *running*
  job stays in the queue as JobStatus 3 for ``remove_linger`` seconds (the shadow's exit) before it
  reaches the history; others go at once.  Fault switches: ``down`` (unreachable), ``refuse``
  (answers and refuses N submits, or all), ``lose_reply`` (commits the submit, then the reply is
  lost).  Error texts are the bindings' ("Failed to create job ad, errmsg=Submit:-1:…").
  Lumberjack: ``export_jobs`` writes the listed *idle* jobs that no one manages yet into
  ``<export_dir>/job_queue.log`` (the ClassAd log format the schedd writes: ``101`` new ad,
  ``103`` set attribute, ``105``/``106`` transaction; ``Iwd`` rewritten to ``new_spool_dir``) and
  marks them ``Managed = "External"``, ``ManagedManager = "Lumberjack"`` in the queue; a missing
  export directory is refused ("failed to open log").  ``import_exported_job_results`` reads the log
  back (with whatever records the in-allocation schedd appended: :func:`append_job_updates`), copies
  the jobs' attributes into the still-exported local jobs (their local ``Iwd`` kept), gives them back
  (``Managed = "ScheddDone"``) and moves finished ones to the history; jobs already given back are
  left alone, so a second import changes nothing.  ``unexport_jobs`` gives exported jobs back
  unchanged.  ``edit`` sets one literal attribute; a job left finished (``JobStatus`` 3 or 4) and
  no longer ``Managed == "External"`` goes to the history, as the schedd retires it.  The result ads of the three calls are
  undocumented in HTCondor; the fake returns empty ones and nothing in the project reads them.
* :class:`FakeCollector` — ``UPDATE_AD_GENERIC`` stores an ad under (``MyType``, ``Name``),
  replacing an older one; an ad without ``Name`` is dropped silently, one without ``MyType`` is
  stored with it undefined (as the collector does); ``INVALIDATE_ADS_GENERIC`` with a query ad
  (``TargetType``, ``Requirements``) removes the matching ads; queries by ad type (``generic`` =
  ``MyType == "Generic"`` only, ``startd`` = Machine/Slot ads, ``schedd`` = Scheduler ads...) and
  constraint; :meth:`FakeCollector.add_slot` advertises a slot as a startd does (``TotalCpus`` a
  real); ``down`` switch ("Failed to advertise to collector.").
* :class:`FakePool` — schedds and collectors by name, the :class:`~hepde.condor.adapter.Pool` the
  sources and publishers are given in tests.

Not modelled: negotiation/matchmaking, the grid manager (grid jobs stay IDLE until a test starts
them), file transfer, job routers, daemon-side limits other than the fault switches.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hepde.condor.adapter import (
    COMPLETED,
    EXPORTED_QUEUE,
    HELD,
    HOLD_CODE_SUBMITTED_ON_HOLD,
    HOLD_CODE_USER_REQUEST,
    IDLE,
    LUMBERJACK,
    MANAGED_DONE,
    MANAGED_EXTERNAL,
    REMOVED,
    RUNNING,
    SUBMITTED_ON_HOLD_REASON,
    CondorInvalidError,
    CondorRefusedError,
    CondorUnavailableError,
    SubmitOutcome,
    ad_to_dict,
    expr_literal,
    job_ids,
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
#: the grid types the schedd accepts (submit_utils' validate_gridtype): ``slurm`` and ``nordugrid``
#: are not among them (``batch slurm ...``, ``arc ...`` are)
GRID_TYPES = ("blah", "batch", "pbs", "sge", "lsf", "nqs", "naregi", "condor", "arc", "ec2", "gce", "azure")
#: submit command → (job attribute, how the value is stored: "expr" parsed as ClassAd, "str" literal string)
COMMANDS: dict[str, tuple[str, str]] = {
    "executable": ("Cmd", "str"),
    "grid_resource": ("GridResource", "str"),
    "request_cpus": ("RequestCpus", "expr"),
    "request_memory": ("RequestMemory", "expr"),
    "request_disk": ("RequestDisk", "expr"),
    "request_gpus": ("RequestGPUs", "expr"),
    "requirements": ("Requirements", "expr"),
    "output": ("Out", "str"),
    "error": ("Err", "str"),
    "input": ("In", "str"),
    "log": ("UserLog", "str"),
    "initialdir": ("Iwd", "str"),
    "periodic_remove": ("PeriodicRemove", "expr"),
    "periodic_hold": ("PeriodicHold", "expr"),
    "periodic_release": ("PeriodicRelease", "expr"),
    "x509userproxy": ("x509userproxy", "str"),
    "scitokens_file": ("ScitokensFile", "str"),
    "use_oauth_services": ("OAuthServicesNeeded", "str"),
    "transfer_executable": ("TransferExecutable", "expr"),
    "transfer_input_files": ("TransferInput", "str"),
    "transfer_output_files": ("TransferOutput", "str"),
    "should_transfer_files": ("ShouldTransferFiles", "str"),
    "when_to_transfer_output": ("WhenToTransferOutput", "str"),
    "job_max_vacate_time": ("JobMaxVacateTime", "expr"),
    "environment": ("Environment", "str"),
    "machine_count": ("MaxHosts", "expr"),
}
#: grid-universe-only commands (the schedd ignores them on other universes)
GRID_COMMANDS: dict[str, tuple[str, str]] = {
    "batch_queue": ("BatchQueue", "str"),
    "batch_project": ("BatchProject", "str"),
    "batch_runtime": ("BatchRuntime", "expr"),
    "batch_extra_submit_args": ("BatchExtraSubmitArgs", "str"),
}
NOTIFICATIONS = {"never": 0, "always": 1, "complete": 2, "error": 3}
_MACRO = re.compile(r"\$\((Cluster|ClusterId|Process|ProcId)\)", re.I)
_TRUE = ("true", "yes", "1", "t", "y")
_FALSE = ("false", "no", "0", "f", "n")


def _submit_error(detail: str) -> CondorInvalidError:
    return CondorInvalidError(f"Failed to create job ad, errmsg=Submit:-1:{detail}")


def _expr(text: str) -> Any:
    import classad2

    try:
        return classad2.ExprTree(text)
    except Exception as exc:
        raise CondorInvalidError(f"cannot parse {text!r} as a ClassAd expression: {exc}") from exc


def _compile(constraint: str | None) -> Any:
    return _expr(constraint if constraint and str(constraint).strip() else "true")


def _matches(expr: Any, ad: Any) -> bool:
    try:
        return expr.eval(ad) is True
    except Exception:  # noqa: BLE001 - an evaluation error does not match, as in the schedd
        return False


def _bool(value: str, command: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _submit_error(f"{command} = {value!r} is not a boolean")


def split_arguments(value: str) -> tuple[str, str]:
    """The ``arguments`` command → (attribute, value), as the schedd stores it.

    The old syntax (no surrounding double quotes) is stored as written in ``Args``.  The new syntax
    (``"..."``: ``""`` is a literal ``"``, single quotes group words, ``''`` is a literal ``'``) is
    split into words; when every word can be written in the old syntax (no white space, no ``"``)
    they are stored space-joined in ``Args`` (``"60 1"`` → ``60 1``), else in ``Arguments`` in the
    new syntax without the outer quotes.
    """
    text = value.strip()
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return "Args", text
    inner = text[1:-1].replace('""', '"')
    words: list[str] = []
    word: list[str] = []
    quoted, started, i = False, False, 0
    while i < len(inner):
        ch = inner[i]
        if ch == "'":
            if quoted and i + 1 < len(inner) and inner[i + 1] == "'":
                word.append("'")
                i += 2
                continue
            quoted, started = not quoted, True
        elif ch.isspace() and not quoted:
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            word.append(ch)
            started = True
        i += 1
    if quoted:
        raise _submit_error(f"unbalanced single quote in arguments {value!r}")
    if started:
        words.append("".join(word))
    if all(w and not any(c.isspace() for c in w) and '"' not in w for w in words):
        return "Args", " ".join(words)

    def v2(w: str) -> str:
        # the job ad holds the new syntax raw: '' inside single quotes is a literal ', " is itself
        quote = not w or "'" in w or any(c.isspace() for c in w)
        w = w.replace("'", "''")
        return f"'{w}'" if quote else w

    return "Arguments", " ".join(v2(w) for w in words)


class FakeSchedd:
    """An in-memory schedd with real ClassAds; see the module docstring."""

    def __init__(
        self,
        name: str = "fake-schedd",
        *,
        owner: str = "bridge",
        uid_domain: str = "fake.example",
        clock: Callable[[], float] = time.time,
        first_cluster: int = 1,
        remove_linger: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        #: the schedd's ``Name`` (what a source reports as ``ScheddName`` for it)
        self.daemon_name: str | None = name
        #: the authenticated submitter: every job it submits is owned by it
        self.owner = owner
        self.uid_domain = uid_domain
        self.clock = clock
        self.remove_linger = remove_linger
        self._monotonic = monotonic
        self.jobs: dict[tuple[int, int], Any] = {}
        self.history_ads: list[Any] = []
        self._leaving: dict[tuple[int, int], float] = {}
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
        self.act_calls: list[tuple[str, str, str]] = []

    # -- faults -------------------------------------------------------------------------------
    def _check_up(self, what: str) -> None:
        if self.down:
            raise CondorUnavailableError(
                f"schedd {self.name} {what}: Failed to connect to schedd. (fake: down)"
            )

    def _settle(self) -> None:
        """Removed running jobs whose shadow has exited leave the queue for the history."""
        now = self._monotonic()
        for key, at in list(self._leaving.items()):
            if now >= at:
                del self._leaving[key]
                if key in self.jobs:
                    self.history_ads.append(self.jobs.pop(key))

    # -- Schedd protocol -----------------------------------------------------------------------
    def whoami(self) -> str:
        with self._lock:
            self._check_up("ping")
            return f"{self.owner}@{self.uid_domain}"

    def submit(self, description: Mapping[str, str], count: int) -> SubmitOutcome:
        import htcondor2

        with self._lock:
            self.submit_calls += 1
            self._check_up("submit")
            if self.refuse:
                if self.refuse > 0:
                    self.refuse -= 1
                raise CondorRefusedError(f"schedd {self.name} submit: {self.refuse_message}")
            if count < 0:
                raise CondorInvalidError(f"count must not be negative (got {count})")
            count = count or 1  # 0: the queue statement's count, one job
            if self.owner == "root":
                raise CondorRefusedError(
                    f"schedd {self.name} submit: Failed to create new cluster. Failed to create new User "
                    "record for root: a schedd never lets root own a job; submit as an ordinary user"
                )
            try:
                sub = htcondor2.Submit(dict(description))
            except Exception as exc:
                raise CondorInvalidError(f"invalid submit description: {exc}") from exc
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
                        "QDate": now,
                        "EnteredCurrentStatus": now,
                        "Owner": self.owner,
                        "User": f"{self.owner}@{self.uid_domain}",
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
            raise _submit_error(f"I don't know about the '{universe}' universe.")
        if not lower.get("executable"):
            raise _submit_error("No 'executable' parameter was provided")
        ad: dict[str, Any] = {
            "JobUniverse": UNIVERSES[universe],
            "JobStatus": IDLE,
            "RequestCpus": 1,
            "RequestMemory": 128,
            "RequestDisk": 1024,
            "Requirements": _expr("true"),
            "JobNotification": 0,
        }
        if universe == "grid":
            resource = lower.get("grid_resource", "").strip()
            if not resource:
                raise _submit_error("No resource identifier was found.")
            grid_type = resource.split()[0].lower()
            if grid_type not in GRID_TYPES:
                raise _submit_error(f'Invalid value for grid type "{resource.split()[0]}"')
        for key, value in commands.items():
            low = key.lower()
            if low == "universe":
                continue
            if low.startswith("my.") or low.startswith("+"):
                attr = key[3:] if low.startswith("my.") else key[1:]
                ad[attr] = _expr(value) if value.strip() else _expr("undefined")
            elif low == "arguments":
                attr, text = split_arguments(value)
                ad[attr] = text
            elif low == "notification":
                kind = value.strip().lower()
                if kind not in NOTIFICATIONS:
                    raise _submit_error(
                        f"Notification must be 'Never', 'Always', 'Complete', or 'Error' (got {value!r})"
                    )
                ad["JobNotification"] = NOTIFICATIONS[kind]
            elif low in GRID_COMMANDS:
                if universe == "grid":
                    attr, how = GRID_COMMANDS[low]
                    ad[attr] = _expr(value) if how == "expr" else value
            elif low in COMMANDS:
                attr, how = COMMANDS[low]
                ad[attr] = _expr(value) if how == "expr" else value
            # other commands (macros, file transfer details...) do not become attributes here
        if "hold" in lower and _bool(lower["hold"], "hold"):
            ad.update(
                {
                    "JobStatus": HELD,
                    "HoldReasonCode": HOLD_CODE_SUBMITTED_ON_HOLD,
                    "HoldReasonSubCode": 0,
                    "HoldReason": SUBMITTED_ON_HOLD_REASON,
                }
            )
        group = lower.get("accounting_group", "").strip()
        if group:
            user = lower.get("accounting_group_user", "").strip()
            ad.update({"AcctGroup": group, "AcctGroupUser": user, "AccountingGroup": f"{group}.{user}"})
        return ad

    def query(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._check_up("query")
            self._settle()
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
            self._settle()
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
            if action not in ("remove", "hold", "release"):
                raise CondorInvalidError(f"unknown job action {action!r}")
            self._settle()
            expr = _compile(constraint)
            text = reason or f"de-bridge {action}"
            self.act_calls.append((action, constraint, text))
            changed = 0
            for key in sorted(self.jobs):
                ad = self.jobs[key]
                if not _matches(expr, ad):
                    continue
                status = ad.eval("JobStatus")
                if action == "remove" and status not in (REMOVED, COMPLETED):
                    self._set_status(key, REMOVED, linger=status == RUNNING, RemoveReason=text)
                    changed += 1
                elif action == "hold" and status in (IDLE, RUNNING):
                    self._set_status(
                        key,
                        HELD,
                        HoldReason=text,
                        HoldReasonCode=HOLD_CODE_USER_REQUEST,
                        HoldReasonSubCode=0,
                    )
                    changed += 1
                elif action == "release" and status == HELD:
                    for attr in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                        if attr in ad:
                            if attr == "HoldReason":
                                ad["LastHoldReason"] = ad.get("HoldReason")
                            del ad[attr]
                    self._set_status(key, IDLE, ReleaseReason=text)
                    changed += 1
            return changed

    def edit(self, ids: Sequence[str], attr: str, value: Any) -> int:
        with self._lock:
            self._check_up("edit")
            self._settle()
            changed = 0
            for key in _keys(ids):
                if key in self.jobs:
                    ad = self.jobs[key]
                    ad[attr] = value
                    changed += 1
                    # a finished job that no one else manages any more is the schedd's to retire
                    # (how a job router's or the bridge's ``Managed = "ScheddDone"`` ends a job)
                    if ad.get("Managed") != MANAGED_EXTERNAL and ad.eval("JobStatus") in (COMPLETED, REMOVED):
                        self._leaving.pop(key, None)
                        self.history_ads.append(self.jobs.pop(key))
            return changed

    def export_jobs(self, ids: Sequence[str], export_dir: str, new_spool_dir: str) -> dict[str, Any]:
        with self._lock:
            self._check_up("export")
            self._settle()
            path = os.path.join(str(export_dir), EXPORTED_QUEUE)
            if not os.path.isdir(str(export_dir)):
                raise CondorRefusedError(
                    f"schedd {self.name} export: failed to open log {path}, errno = 2 (fake)"
                )
            chosen = []
            for key in _keys(ids):
                ad = self.jobs.get(key)
                if ad is None or ad.get("Managed") == MANAGED_EXTERNAL or ad.eval("JobStatus") != IDLE:
                    continue
                chosen.append(key)
            exported = []
            for key in chosen:
                copy = to_classad({})
                copy.update(self.jobs[key])
                copy["Iwd"] = str(new_spool_dir)
                exported.append(copy)
            write_job_queue_log(path, exported)
            for key in chosen:
                self.jobs[key].update({"Managed": MANAGED_EXTERNAL, "ManagedManager": LUMBERJACK})
            return {}

    def import_exported_job_results(self, import_dir: str) -> dict[str, Any]:
        with self._lock:
            self._check_up("import")
            self._settle()
            path = os.path.join(str(import_dir), EXPORTED_QUEUE)
            try:
                ads = read_job_queue_log(path)
            except OSError as exc:
                raise CondorRefusedError(
                    f"schedd {self.name} import: failed to open log {path}: {exc} (fake)"
                ) from exc
            for key, attrs in ads.items():
                ad = self.jobs.get(key)
                if (
                    ad is None
                    or ad.get("Managed") != MANAGED_EXTERNAL
                    or ad.get("ManagedManager") != LUMBERJACK
                ):
                    continue  # not exported from here, or already given back: an import is done once
                for attr, text in attrs.items():
                    if attr in ("ClusterId", "ProcId", "Iwd", "Managed", "ManagedManager"):
                        continue
                    ad[attr] = _expr(text)
                self._give_back(key)
                status = ad.eval("JobStatus")
                if status in (COMPLETED, REMOVED):
                    self._leaving.pop(key, None)
                    self.history_ads.append(self.jobs.pop(key))
            return {}

    def unexport_jobs(self, ids: Sequence[str]) -> dict[str, Any]:
        with self._lock:
            self._check_up("unexport")
            self._settle()
            for key in _keys(ids):
                ad = self.jobs.get(key)
                if (
                    ad is not None
                    and ad.get("Managed") == MANAGED_EXTERNAL
                    and ad.get("ManagedManager") == LUMBERJACK
                ):
                    self._give_back(key)
            return {}

    def _give_back(self, key: tuple[int, int]) -> None:
        ad = self.jobs[key]
        ad["Managed"] = MANAGED_DONE
        if "ManagedManager" in ad:
            del ad["ManagedManager"]

    # -- the test's side: what the grid manager and the pilots would do ------------------------------
    def _set_status(self, key: tuple[int, int], status: int, *, linger: bool = False, **attrs: Any) -> None:
        ad = self.jobs[key]
        ad["LastJobStatus"] = ad.eval("JobStatus")
        ad["JobStatus"] = status
        ad["EnteredCurrentStatus"] = int(self.clock())
        for k, v in attrs.items():
            ad[k] = v
        if status == REMOVED and linger and self.remove_linger > 0:
            self._leaving[key] = self._monotonic() + self.remove_linger
        elif status in (REMOVED, COMPLETED):
            self._leaving.pop(key, None)
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
            self._settle()
            expr = _compile(constraint)
            return sum(1 for ad in self.jobs.values() if _matches(expr, ad))


def _keys(ids: Sequence[str]) -> list[tuple[int, int]]:
    out = []
    for text in job_ids(ids):
        cluster, proc = text.split(".")
        out.append((int(cluster), int(proc)))
    return out


# -- the exported job queue (HTCondor's ClassAd log format) ----------------------------------------------
#: ClassAd log operations (``classad_log.h``): new ad, destroy ad, set attribute, delete attribute,
#: begin / end transaction, historical sequence number
LOG_NEW_AD, LOG_DESTROY_AD, LOG_SET, LOG_DELETE, LOG_BEGIN, LOG_END, LOG_SEQUENCE = (
    101,
    102,
    103,
    104,
    105,
    106,
    107,
)


def write_job_queue_log(path: str, ads: Sequence[Any]) -> None:
    """Write job ads (``classad2.ClassAd``) as a job queue log: one transaction of proc ads."""
    lines = [f"{LOG_SEQUENCE} 1 CreationTimestamp {int(time.time())}", str(LOG_BEGIN)]
    for ad in ads:
        key = f"{int(ad.eval('ClusterId'))}.{int(ad.eval('ProcId'))}"
        lines.append(f"{LOG_NEW_AD} {key} Job Machine")
        for attr in ad.keys():
            text = str(ad.lookup(attr)).replace("\n", " ")
            lines.append(f"{LOG_SET} {key} {attr} {text}")
    lines.append(str(LOG_END))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def read_job_queue_log(path: str) -> dict[tuple[int, int], dict[str, str]]:
    """The proc ads of a job queue log, each attribute as ClassAd expression text; a cluster ad
    (``0<cluster>.-1``) supplies what its procs do not set."""
    ads: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(" ", 3)
            if not parts or not parts[0].isdigit():
                continue
            op = int(parts[0])
            if op == LOG_NEW_AD and len(parts) >= 2:
                ads.setdefault(parts[1], {})
            elif op == LOG_DESTROY_AD and len(parts) >= 2:
                ads.pop(parts[1], None)
            elif op == LOG_SET and len(parts) == 4:
                ads.setdefault(parts[1], {})[parts[2]] = parts[3]
            elif op == LOG_DELETE and len(parts) >= 3:
                ads.get(parts[1], {}).pop(parts[2], None)
    out: dict[tuple[int, int], dict[str, str]] = {}
    for key, attrs in ads.items():
        cluster, _, proc = key.partition(".")
        if not proc or proc.startswith("-") or not cluster.isdigit() or not proc.isdigit():
            continue
        base = dict(ads.get(f"0{int(cluster)}.-1", {}))
        base.update(attrs)
        out[(int(cluster), int(proc))] = base
    return out


def append_job_updates(path: str, updates: Mapping[tuple[int, int] | str, Mapping[str, Any]]) -> None:
    """Append what a schedd running the exported jobs records (``103`` set attribute, in one
    transaction): how a test plays the in-allocation pool."""
    lines = [str(LOG_BEGIN)]
    for key, attrs in updates.items():
        ident = key if isinstance(key, str) else f"{key[0]}.{key[1]}"
        for attr, value in attrs.items():
            lines.append(f"{LOG_SET} {ident} {attr} {expr_literal(value)}")
    lines.append(str(LOG_END))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def _expand(value: Any, cluster: int, proc: int) -> Any:
    if isinstance(value, str) and "$(" in value:
        return _MACRO.sub(lambda m: str(cluster if m.group(1).lower().startswith("cluster") else proc), value)
    return value


#: collector ad type → the ``MyType`` values it selects (``any``: every ad)
AD_TYPE_MYTYPES: dict[str, tuple[str, ...]] = {
    "startd": ("machine", "slot"),
    "schedd": ("scheduler",),
    "master": ("daemonmaster",),
    "collector": ("collector",),
    "negotiator": ("negotiator",),
    "generic": ("generic",),
    "submitter": ("submitter",),
}


class FakeCollector:
    """An in-memory collector with real ClassAds; see the module docstring."""

    def __init__(self, name: str = "fake-collector") -> None:
        self.name = name
        self.ads: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        self.down = False
        self.advertise_calls = 0

    def advertise(self, ads: Sequence[Mapping[str, Any]], command: str = "UPDATE_AD_GENERIC") -> None:
        with self._lock:
            self.advertise_calls += 1
            if self.down:
                raise CondorUnavailableError(
                    f"collector {self.name} {command}: HTCondorException: Failed to advertise to collector. "
                    "(fake: down)"
                )
            if command in ("UPDATE_AD_GENERIC", "UPDATE_STARTD_AD"):
                staged = {}
                for raw in ads:
                    ad = to_classad(raw)
                    mytype, name = ad.get("MyType"), ad.get("Name")
                    if not isinstance(name, str) or not name:
                        continue  # the collector drops an ad without a Name, and says nothing
                    ad["LastHeardFrom"] = int(time.time())
                    staged[(mytype.lower() if isinstance(mytype, str) else "", name)] = ad
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
                raise CondorInvalidError(f"unsupported advertise command {command!r}")

    def query(
        self, ad_type: str = "any", constraint: str = "true", projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        with self._lock:
            if self.down:
                raise CondorUnavailableError(
                    f"collector {self.name} query: HTCondorException: Failed communication with collector. "
                    "(fake: down)"
                )
            kind = ad_type.lower()
            if kind != "any" and kind not in AD_TYPE_MYTYPES:
                raise CondorInvalidError(f"unknown ad type {ad_type!r}")
            try:
                expr = _compile(constraint)
            except CondorInvalidError as exc:
                raise CondorInvalidError(
                    f"collector {self.name} query: HTCondorException: Unknown error from collector query. "
                    f"({exc})"
                ) from exc
            wanted = AD_TYPE_MYTYPES.get(kind)
            out = []
            for (mytype, _), ad in sorted(self.ads.items()):
                if wanted is not None and mytype not in wanted:
                    continue
                if _matches(expr, ad):
                    out.append(ad_to_dict(ad, projection))
            return out

    def names(self, mytype: str) -> list[str]:
        with self._lock:
            return sorted(name for (t, name) in self.ads if t == mytype.lower())

    def add_slot(
        self,
        name: str,
        *,
        cpus: int = 1,
        memory: int = 1024,
        state: str = "Unclaimed",
        activity: str = "Idle",
        total_cpus: int | None = None,
        **attrs: Any,
    ) -> None:
        """Advertise a slot the way a startd does: ``MyType "Machine"``, ``Cpus`` an integer,
        ``TotalCpus`` a real (``4.0``), ``Machine`` the part of ``Name`` after ``@``."""
        machine = name.split("@", 1)[-1]
        ad = {
            "MyType": "Machine",
            "Name": name,
            "Machine": machine,
            "Cpus": int(cpus),
            "TotalCpus": float(total_cpus if total_cpus is not None else cpus),
            "DetectedCpus": int(total_cpus if total_cpus is not None else cpus),
            "Memory": int(memory),
            "TotalMemory": int(memory),
            "State": state,
            "Activity": activity,
            "SlotType": "Static",
            **attrs,
        }
        self.advertise([ad], "UPDATE_STARTD_AD")


class FakePool:
    """Fake schedds and collectors by name: the :class:`~hepde.condor.adapter.Pool` tests give to the
    sources and publishers.  A collector host it does not know is an unreachable collector."""

    def __init__(
        self,
        schedds: Mapping[str, FakeSchedd] | Sequence[FakeSchedd] = (),
        collectors: Mapping[str, FakeCollector] | Sequence[FakeCollector] = (),
        *,
        local_schedd: str | None = None,
    ) -> None:
        self.schedds = dict(schedds) if isinstance(schedds, Mapping) else {s.name: s for s in schedds}
        self.collectors = (
            dict(collectors) if isinstance(collectors, Mapping) else {c.name: c for c in collectors}
        )
        self.local_schedd = local_schedd or (next(iter(self.schedds)) if self.schedds else None)
        self.unknown_collectors: dict[str, FakeCollector] = {}

    def schedd(self, name: str | None, pool: str | None) -> FakeSchedd:
        key = name or self.local_schedd
        if key is None or key not in self.schedds:
            raise CondorUnavailableError(
                f"cannot locate schedd {name or '(local)'}: Unable to locate daemon."
            )
        return self.schedds[key]

    def collector(self, host: str | None) -> FakeCollector:
        key = host or "local"
        if key in self.collectors:
            return self.collectors[key]
        down = self.unknown_collectors.setdefault(key, FakeCollector(key))
        down.down = True
        return down
