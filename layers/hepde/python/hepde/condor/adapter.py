"""The small HTCondor interface the bridge needs, and its implementation over ``htcondor2``/``classad2``.

Two roles, each a protocol with one real and one in-memory implementation (:mod:`hepde.condor.fakes`):

* :class:`Schedd` — ``submit(description, count)`` one cluster; ``query``/``history`` job ads by a
  ClassAd constraint; ``act`` (remove/hold/release) on the jobs a constraint selects; ``edit`` one
  attribute of listed jobs; Lumberjack's ``export_jobs`` / ``import_exported_job_results`` /
  ``unexport_jobs`` (jobs handed to a schedd inside an HPC allocation through an exported
  ``job_queue.log``, and their results taken back);
* :class:`Collector` — ``advertise`` ads (``UPDATE_AD_GENERIC`` / ``INVALIDATE_ADS_GENERIC``) and
  ``query`` ads by type and constraint.

Ads cross the interface as plain dicts (attribute → evaluated Python value; ``Undefined`` left out),
the shape the snapshot format stores.  Errors are translated into three classes: the daemon could not
be reached (:class:`CondorUnavailableError`), it answered and refused (:class:`CondorRefusedError`),
or what was asked is malformed — a constraint that does not parse, a submit description the schedd
cannot turn into a job ad (:class:`CondorInvalidError`, a kind of refusal).  :func:`with_retries`
retries the unavailable class only, a bounded number of times within a bounded time; the bridge
retries both with its own backoff.  No error ever means "nothing happened" for a submit, which is
why the bridge checks a submit against the schedd before it repeats it.

This is the project's ONE HTCondor adapter: the bridge, the job-queue/slot/factory sources
(:class:`hepde.modules.htcondor.query.BindingsAdSource`) and the glideclient publisher all reach the
daemons through :class:`HTCondorSchedd` / :class:`HTCondorCollector` (or a :class:`Pool` of them).

Configuration is explicit and per object (:class:`CondorSettings`), never through ``os.environ``:
a configuration file's settings are applied as parameters (:func:`config_file_params`), an X.509 proxy and a token
directory become ``AUTH_SSL_CLIENT_*`` / ``SEC_TOKEN_DIRECTORY`` parameters, and a token file is the
collector's ``SecurityContext(token=...)``.  The bindings keep their configuration per process, so
every call that needs non-default settings runs inside :func:`bindings_scope`, which applies them
under one lock and restores the previous configuration afterwards.  Without settings, the host's
configuration applies (``CONDOR_CONFIG``, IDTOKENs in ``tokens.d``, SSL/host certificates of the
Unix user).  Nothing here logs or stores a secret.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from hepde.errors import DEError

IDLE, RUNNING, REMOVED, COMPLETED, HELD, TRANSFERRING, SUSPENDED = 1, 2, 3, 4, 5, 6, 7
JOB_ACTIONS = ("remove", "hold", "release")
#: ad types a collector query may name (``any`` = every ad, generic ones included)
AD_TYPES = ("any", "startd", "schedd", "master", "collector", "negotiator", "generic", "submitter")


class CondorError(DEError):
    """An HTCondor daemon could not do what was asked."""


class CondorUnavailableError(CondorError):
    """The daemon could not be reached (down, network, timeout, authentication handshake failed)."""


class CondorRefusedError(CondorError):
    """The daemon answered and refused (permission, limits, invalid submit description)."""


class CondorInvalidError(CondorRefusedError):
    """What was asked is malformed: a constraint that does not parse, a submit description that
    cannot become a job ad.  Retrying the same request cannot succeed."""


#: the hold reason code HTCondor gives a job submitted with ``hold = true`` (``SubmittedOnHold``)
HOLD_CODE_SUBMITTED_ON_HOLD = 15
#: the hold reason code of ``condor_hold`` / ``Schedd.act(JobAction.Hold)`` (``UserRequest``)
HOLD_CODE_USER_REQUEST = 1
SUBMITTED_ON_HOLD_REASON = "submitted on hold at user's request"

#: ``Managed`` of a job an external manager holds (HTCondor-C, the job router, Lumberjack): the
#: schedd does not schedule it; ``ScheddDone`` gives it back
MANAGED_EXTERNAL = "External"
MANAGED_DONE = "ScheddDone"
#: ``ManagedManager`` of a job ``Schedd.export_jobs`` exported
LUMBERJACK = "Lumberjack"
#: the file ``export_jobs`` writes into the export directory (and ``import_exported_job_results`` reads)
EXPORTED_QUEUE = "job_queue.log"
_JOB_ID = re.compile(r"^[0-9]+\.[0-9]+$")


def job_ids(ids: Sequence[str]) -> list[str]:
    """``ClusterId.ProcId`` strings, checked: the job spec of ``edit``/``export_jobs``/``unexport_jobs``."""
    out = [str(i).strip() for i in ids]
    if not out:
        raise CondorInvalidError("no job ids given (expected 'ClusterId.ProcId' strings)")
    bad = [i for i in out if not _JOB_ID.match(i)]
    if bad:
        raise CondorInvalidError(f"not job ids (expected 'ClusterId.ProcId'): {bad[:5]}")
    return out


def argument_words(args: str | None = None, arguments: str | None = None) -> list[str]:
    """A job ad's command line as words: ``Arguments`` (the new syntax as the ad holds it: white space
    separates, single quotes group, ``''`` inside them is a literal ``'``) if set, else ``Args`` (the old syntax: white space
    separates, no quoting)."""
    if arguments:
        words: list[str] = []
        word: list[str] = []
        quoted, started, i = False, False, 0
        text = arguments
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if quoted and i + 1 < len(text) and text[i + 1] == "'":
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
            raise CondorInvalidError(f"unbalanced single quote in Arguments {arguments!r}")
        if started:
            words.append("".join(word))
        return words
    return (args or "").split()


def arguments_command(words: Sequence[str]) -> str:
    """Words → the value of a submit file's ``arguments`` command in the new syntax (``"..."``),
    which keeps every word as it is whatever it contains."""

    def one(w: str) -> str:
        quote = not w or "'" in w or any(c.isspace() for c in w)
        w = w.replace('"', '""').replace("'", "''")
        return f"'{w}'" if quote else w

    return '"' + " ".join(one(str(w)) for w in words) + '"'


def ids_constraint(ids: Sequence[str]) -> str:
    """A constraint selecting the listed ``ClusterId.ProcId`` jobs."""
    parts = []
    for i in job_ids(ids):
        cluster, proc = i.split(".")
        parts.append(f"(ClusterId == {int(cluster)} && ProcId == {int(proc)})")
    return " || ".join(parts)


@dataclass(frozen=True)
class CondorSettings:
    """How to reach and authenticate to the daemons, passed explicitly (never via ``os.environ``).

    * ``config_file`` — an HTCondor configuration file whose settings apply on top of the host's for
      the call (:func:`config_file_params`: its ``NAME = value`` assignments, macros left for HTCondor
      to expand).  ``htcondor2.reload_config(path)`` is not used: with the 25.14 wheel it changes
      nothing while ``CONDOR_CONFIG`` is set — and the bindings set it to ``/dev/null`` themselves
      on a host without a configuration — so the file was silently ignored;
    * ``proxy_file`` — an X.509 (proxy) certificate to authenticate with by SSL
      (``AUTH_SSL_CLIENT_CERTFILE``/``AUTH_SSL_CLIENT_KEYFILE``, the original's ``X509_USER_PROXY``);
    * ``token_file`` — a file holding one IDTOKEN or SciToken, presented to collectors
      (``htcondor2.SecurityContext(token=...)``);
    * ``token_directory`` — a ``tokens.d`` directory for every daemon, schedds included
      (``SEC_TOKEN_DIRECTORY``): the way to choose the identity a schedd sees;
    * ``params`` — further configuration parameters for the calls (``SEC_CLIENT_AUTHENTICATION_METHODS``...).
    """

    config_file: str | None = None
    proxy_file: str | None = None
    token_file: str | None = None
    token_directory: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def overrides(self) -> dict[str, str]:
        out = dict(self.params)
        if self.proxy_file:
            out["AUTH_SSL_CLIENT_CERTFILE"] = self.proxy_file
            out["AUTH_SSL_CLIENT_KEYFILE"] = self.proxy_file
        if self.token_directory:
            out["SEC_TOKEN_DIRECTORY"] = self.token_directory
        return out

    @property
    def is_default(self) -> bool:
        return not (self.config_file or self.overrides())

    def token(self) -> str | None:
        if not self.token_file:
            return None
        try:
            with open(self.token_file, encoding="utf-8") as fh:
                text = fh.read().strip()
        except OSError as exc:
            raise CondorUnavailableError(f"cannot read the token file {self.token_file}: {exc}") from exc
        return text or None


DEFAULT_SETTINGS = CondorSettings()
_BINDINGS_LOCK = threading.RLock()


def bindings() -> Any:
    """The ``htcondor2`` module, or a clear error when the bindings are not installed."""
    try:
        import htcondor2
    except ImportError as exc:
        raise CondorUnavailableError(
            "the HTCondor Python bindings are not installed (pip install 'hepde-serverless[bridge]'); "
            "in AWS go through the condor bridge: 'snapshot_location' for sources, "
            "advertise_via: 'bridge' for publishers"
        ) from exc
    return htcondor2


@contextlib.contextmanager
def bindings_scope(settings: CondorSettings | None) -> Iterator[Any]:
    """Run a block with ``settings`` applied to the bindings' configuration, then restore it.

    The default settings take no lock and change nothing.  Otherwise one lock serialises every call
    that needs its own configuration (the bindings hold one configuration per process).
    """
    htcondor2 = bindings()
    if settings is None or settings.is_default:
        yield htcondor2
        return
    with _BINDINGS_LOCK:
        params = dict(config_file_params(settings.config_file)) if settings.config_file else {}
        params.update(settings.overrides())
        saved: dict[str, str | None] = {}
        try:
            for key, value in params.items():
                saved[key] = htcondor2.param.get(key)
                htcondor2.param[key] = str(value)
            yield htcondor2
        finally:
            for key, old in saved.items():
                if old is None:
                    with contextlib.suppress(Exception):
                        del htcondor2.param[key]
                else:
                    htcondor2.param[key] = old


_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")
_UNSUPPORTED = re.compile(
    r"^(include|use|if|elif|else|endif|error|warning)\b|^[A-Za-z_][A-Za-z0-9_.]*\s*@=", re.I
)


def config_file_params(path: str) -> list[tuple[str, str]]:
    """The ``NAME = value`` assignments of an HTCondor configuration file, in order (a later one
    wins), ``\\`` continuations joined, ``#`` comment lines skipped.  Directives this reader does not
    carry out (``include``, ``use``, ``if``, ``@=`` blocks) are a :class:`CondorInvalidError` naming
    the file and line: a configuration is applied whole or not at all."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CondorInvalidError(f"cannot read the HTCondor configuration {path}: {exc}") from exc
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].strip()
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if _UNSUPPORTED.match(line):
            raise CondorInvalidError(
                f"{path}:{start + 1}: {line.split()[0]!r} is not supported in a bridge/source config_file "
                "(give plain NAME = value settings)"
            )
        match = _ASSIGNMENT.match(line)
        if not match:
            raise CondorInvalidError(f"{path}:{start + 1}: expected NAME = value, got {line[:80]!r}")
        out.append((match.group(1), match.group(2).strip()))
    return out


T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of :class:`CondorUnavailableError`: ``attempts`` in all, waiting ``interval``
    seconds growing ×2, never more than ``max_seconds`` of waiting in total."""

    attempts: int = 1
    interval: float = 0.0
    max_seconds: float = 60.0


def with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; retry it on :class:`CondorUnavailableError` (and ``retry_on``) as ``policy`` allows.

    A refusal (:class:`CondorRefusedError`, :class:`CondorInvalidError`) is raised at once: the
    daemon answered, asking again cannot change its answer.
    """
    retryable: tuple[type[BaseException], ...] = (CondorUnavailableError, *retry_on)
    delay, slept = policy.interval, 0.0
    attempt = 1
    while True:
        try:
            return fn()
        except retryable:
            if attempt >= max(1, policy.attempts) or slept + delay > policy.max_seconds:
                raise
            if delay:
                sleep(delay)
            slept += delay
            delay *= 2
            attempt += 1


@dataclass(frozen=True)
class SubmitOutcome:
    cluster: int
    procs: int


class Schedd(Protocol):
    name: str

    def submit(self, description: Mapping[str, str], count: int) -> SubmitOutcome: ...

    def query(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]: ...

    def history(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]: ...

    def act(self, action: str, constraint: str, reason: str = "") -> int:
        """Apply ``remove``/``hold``/``release`` to the jobs ``constraint`` selects; return how many
        changed.  ``reason`` becomes the jobs' ``HoldReason``/``RemoveReason``/``ReleaseReason``."""
        ...

    def whoami(self) -> str:
        """The identity this client is authenticated as at the schedd (what becomes a job's ``Owner``
        is its user part)."""
        ...

    def edit(self, ids: Sequence[str], attr: str, value: Any) -> int:
        """Set ``attr`` to the literal ``value`` on the listed jobs; return how many were edited."""
        ...

    def export_jobs(self, ids: Sequence[str], export_dir: str, new_spool_dir: str) -> dict[str, Any]:
        """Lumberjack: write the listed jobs into ``export_dir/job_queue.log`` (their ``Iwd`` rewritten
        to ``new_spool_dir``) for a schedd elsewhere; they stay in this queue with ``Managed ==
        "External"``, ``ManagedManager == "Lumberjack"`` and are not scheduled here."""
        ...

    def import_exported_job_results(self, import_dir: str) -> dict[str, Any]:
        """Lumberjack: take the exported jobs' state from ``import_dir/job_queue.log`` (as the other
        schedd left it) back into this queue, and give them back to this schedd (``Managed`` no
        longer ``External``)."""
        ...

    def unexport_jobs(self, ids: Sequence[str]) -> dict[str, Any]:
        """Lumberjack: give exported jobs back to this schedd without results (they run here again)."""
        ...


class Collector(Protocol):
    name: str

    def advertise(self, ads: Sequence[Mapping[str, Any]], command: str = "UPDATE_AD_GENERIC") -> None: ...

    def query(
        self, ad_type: str = "any", constraint: str = "true", projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]: ...


# -- ClassAd helpers (classad2) -----------------------------------------------------------------
def expr_literal(value: Any) -> str:
    """A Python value as ClassAd expression text (strings quoted with classad2's rules)."""
    import classad2

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return classad2.quote(str(value))


def to_classad(ad: Mapping[str, Any]) -> Any:
    """A dict → ``classad2.ClassAd``; ``{"expr": "..."}`` values become expressions."""
    import classad2

    out = classad2.ClassAd()
    for key, value in ad.items():
        if isinstance(value, Mapping) and set(value) == {"expr"}:
            out[key] = classad2.ExprTree(str(value["expr"]))
        elif value is None:
            continue
        else:
            out[key] = value
    return out


def ad_to_dict(ad: Any, projection: Sequence[str] = ()) -> dict[str, Any]:
    """A ``classad2.ClassAd`` → dict of evaluated values (``Undefined``/``Error`` left out), as the
    original's ``eval_classad_expr``; ``Requirements`` and ``START`` stay expression text."""
    import classad2

    keys = list(projection) if projection else list(ad.keys())
    out: dict[str, Any] = {}
    for key in keys:
        if key not in ad:
            continue
        raw = ad.get(key)
        if isinstance(raw, classad2.ExprTree):
            if key in ("Requirements", "START"):
                out[key] = str(raw)
                continue
            try:
                value = ad.eval(key)
            except Exception:  # noqa: BLE001 - an unevaluable attribute is left out, as the original did
                continue
            if isinstance(value, classad2.Value):
                continue
            out[key] = _plain(value)
        else:
            out[key] = _plain(raw)
    return out


def _plain(value: Any) -> Any:
    import classad2

    if isinstance(value, classad2.ClassAd):
        return ad_to_dict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: texts of the bindings (25.x) that mean "the daemon was not reached"
_CONNECT = re.compile(
    r"connect|locate|timed? ?out|timeout|unreachable|refused connection|no route|"
    r"authenticat|security session|communicat|reset by peer|broken pipe|"
    r"failed to advertise to collector|failed to start command|end-of-message",
    re.I,
)
#: texts that mean "what was asked is malformed" (a bad constraint reaches the collector as
#: "Unknown error from collector query."; a bad submit description as "Failed to create job ad")
_INVALID = re.compile(
    r"parse error|invalid constraint|invalid query|unknown error from collector query|"
    r"failed to create job ad|errmsg=submit|cannot parse|syntax error",
    re.I,
)


def translate(exc: BaseException, what: str) -> CondorError:
    """An ``htcondor2`` exception → :class:`CondorUnavailableError`, :class:`CondorInvalidError` or
    :class:`CondorRefusedError`."""
    if isinstance(exc, CondorError):
        return exc
    text = f"{what}: {type(exc).__name__}: {exc}"
    message = str(exc)
    if _CONNECT.search(message):
        return CondorUnavailableError(text)
    if isinstance(exc, ValueError | TypeError) or _INVALID.search(message):
        return CondorInvalidError(text)
    return CondorRefusedError(text)


def _call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except CondorError:
        raise
    except Exception as exc:
        raise translate(exc, what) from exc


# -- the real thing (htcondor2) -------------------------------------------------------------------
class HTCondorSchedd:
    """A schedd reached with ``htcondor2``: the local one (``name=None``) or ``name`` located in ``pool``."""

    def __init__(
        self,
        logical_name: str,
        *,
        name: str | None = None,
        pool: str | None = None,
        settings: CondorSettings | None = None,
    ) -> None:
        self.name = logical_name
        self.schedd_name = name
        self.pool = pool
        self.settings = settings or DEFAULT_SETTINGS
        self._schedd: Any = None
        self._location: Any = None
        #: the schedd's ``Name`` as its location ad gives it (known after the first call)
        self.daemon_name: str | None = name

    def __repr__(self) -> str:
        return f"HTCondorSchedd({self.name!r}, name={self.schedd_name!r}, pool={self.pool!r})"

    @property
    def _where(self) -> str:
        return f"schedd {self.schedd_name or '(local)'}"

    def _get(self, htcondor2: Any) -> Any:
        if self._schedd is None:
            try:
                # the local schedd is the one the host's collector knows, whatever ``pool`` says
                collector = htcondor2.Collector(
                    self.pool if self.schedd_name else None, _security(htcondor2, self.settings)
                )
                if self.schedd_name:
                    location = collector.locate(htcondor2.DaemonType.Schedd, self.schedd_name)
                else:
                    location = collector.locate(htcondor2.DaemonType.Schedd)
                self._schedd = htcondor2.Schedd(location)
                self._location = location
                with contextlib.suppress(Exception):
                    self.daemon_name = str(location["Name"])
            except Exception as exc:
                raise CondorUnavailableError(f"cannot locate {self._where}: {exc}") from exc
        return self._schedd

    def _run(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        with bindings_scope(self.settings) as htcondor2:
            schedd = self._get(htcondor2)
            try:
                return _call(f"{self._where} {what}", getattr(schedd, method), *args, **kwargs)
            except CondorUnavailableError:
                self._schedd = None  # locate again next time: the schedd may have moved or restarted
                raise

    def submit(self, description: Mapping[str, str], count: int) -> SubmitOutcome:
        htcondor2 = bindings()
        try:
            sub = htcondor2.Submit(dict(description))
        except Exception as exc:
            raise CondorInvalidError(f"invalid submit description: {exc}") from exc
        result = self._run("submit", "submit", sub, count=count)
        return SubmitOutcome(cluster=int(result.cluster()), procs=int(result.num_procs()))

    def query(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        ads = self._run("query", "query", constraint=constraint, projection=list(projection), limit=limit)
        return [ad_to_dict(ad, projection) for ad in ads]

    def history(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        ads = self._run("history", "history", constraint, list(projection), match=limit)
        return [ad_to_dict(ad, projection) for ad in ads]

    def act(self, action: str, constraint: str, reason: str = "") -> int:
        htcondor2 = bindings()
        kinds = {
            "remove": htcondor2.JobAction.Remove,
            "hold": htcondor2.JobAction.Hold,
            "release": htcondor2.JobAction.Release,
        }
        if action not in kinds:
            raise CondorInvalidError(f"unknown job action {action!r} (expected one of {JOB_ACTIONS})")
        # htcondor2 25.x drops a reason given as a plain string (HoldReason "", no RemoveReason);
        # the (reason, code) form keeps it
        text = reason or f"de-bridge {action}"
        result = self._run(action, "act", kinds[action], constraint, (text, None))
        return int(result.get("TotalSuccess", 0)) if result is not None else 0

    def edit(self, ids: Sequence[str], attr: str, value: Any) -> int:
        # htcondor2's edit takes the value as expression text: a literal is quoted first
        result = self._run("edit", "edit", job_ids(ids), attr, expr_literal(value))
        return int(result or 0)

    def export_jobs(self, ids: Sequence[str], export_dir: str, new_spool_dir: str) -> dict[str, Any]:
        result = self._run("export", "export_jobs", job_ids(ids), str(export_dir), str(new_spool_dir))
        return ad_to_dict(result) if result is not None else {}

    def import_exported_job_results(self, import_dir: str) -> dict[str, Any]:
        result = self._run("import", "import_exported_job_results", str(import_dir))
        return ad_to_dict(result) if result is not None else {}

    def unexport_jobs(self, ids: Sequence[str]) -> dict[str, Any]:
        result = self._run("unexport", "unexport_jobs", job_ids(ids))
        return ad_to_dict(result) if result is not None else {}

    def whoami(self) -> str:
        with bindings_scope(self.settings) as htcondor2:
            self._get(htcondor2)
            ad = _call(
                f"{self._where} ping",
                htcondor2.ping,
                self._location,
                "WRITE",
                _security(htcondor2, self.settings),
            )
        return str(ad.get("MyRemoteUserName", "")) if ad is not None else ""


def _security(htcondor2: Any, settings: CondorSettings) -> Any:
    token = settings.token()
    if token is None:
        return None
    return htcondor2.SecurityContext(token=token)


class HTCondorCollector:
    """A collector (or several, ``"a, b"``) reached with ``htcondor2``."""

    def __init__(
        self, logical_name: str, *, host: str | None = None, settings: CondorSettings | None = None
    ) -> None:
        self.name = logical_name
        self.host = host
        self.settings = settings or DEFAULT_SETTINGS

    def __repr__(self) -> str:
        return f"HTCondorCollector({self.name!r}, host={self.host!r})"

    @property
    def _where(self) -> str:
        return f"collector {self.host or '(local)'}"

    def _collector(self, htcondor2: Any) -> Any:
        # a new client object per call: it holds no connection, and a cached one would keep a
        # security context whose token file may have been renewed since
        try:
            return htcondor2.Collector(self.host, _security(htcondor2, self.settings))
        except CondorError:
            raise
        except Exception as exc:
            raise translate(exc, f"{self._where} init") from exc

    def advertise(self, ads: Sequence[Mapping[str, Any]], command: str = "UPDATE_AD_GENERIC") -> None:
        classads = [to_classad(ad) for ad in ads]
        with bindings_scope(self.settings) as htcondor2:
            collector = self._collector(htcondor2)
            _call(f"{self._where} {command}", collector.advertise, classads, command, True)

    def query(
        self, ad_type: str = "any", constraint: str = "true", projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        kind = ad_type.lower()
        if kind not in AD_TYPES:
            raise CondorInvalidError(f"unknown ad type {ad_type!r} (expected one of {AD_TYPES})")
        with bindings_scope(self.settings) as htcondor2:
            adtype = getattr(htcondor2.AdType, kind.capitalize())
            collector = self._collector(htcondor2)
            ads = _call(f"{self._where} query", collector.query, adtype, constraint, list(projection) or None)
        return [ad_to_dict(ad, projection) for ad in ads]


class Pool(Protocol):
    """Hands out schedd and collector clients: the real ones (:class:`HTCondorPool`) or fakes
    (:class:`hepde.condor.fakes.FakePool`).  What the sources and the publisher are given."""

    def schedd(self, name: str | None, pool: str | None) -> Schedd: ...

    def collector(self, host: str | None) -> Collector: ...


class HTCondorPool:
    """Clients over ``htcondor2``, all with the same :class:`CondorSettings`."""

    def __init__(self, settings: CondorSettings | None = None) -> None:
        self.settings = settings or DEFAULT_SETTINGS

    def schedd(self, name: str | None, pool: str | None) -> HTCondorSchedd:
        return HTCondorSchedd(name or "local", name=name, pool=pool, settings=self.settings)

    def collector(self, host: str | None) -> HTCondorCollector:
        return HTCondorCollector(host or "local", host=host, settings=self.settings)


def invalidation_ad(ad_type: str, constraint: str) -> dict[str, Any]:
    """The query ad of an ``INVALIDATE_ADS_GENERIC`` (as the original's ``invalidate_ads``)."""
    return {"MyType": "Query", "TargetType": ad_type, "Requirements": {"expr": constraint}}
