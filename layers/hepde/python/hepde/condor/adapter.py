"""The small HTCondor interface the bridge needs, and its implementation over ``htcondor2``/``classad2``.

Two roles, each a protocol with one real and one in-memory implementation (:mod:`hepde.condor.fakes`):

* :class:`Schedd` — ``submit(description, count)`` one cluster; ``query``/``history`` job ads by a
  ClassAd constraint; ``act`` (remove/hold/release) on the jobs a constraint selects;
* :class:`Collector` — ``advertise`` ads (``UPDATE_AD_GENERIC`` / ``INVALIDATE_ADS_GENERIC``) and
  ``query`` ads by type and constraint.

Ads cross the interface as plain dicts (attribute → evaluated Python value; ``Undefined`` left out),
the shape the snapshot format stores.  Errors are translated into two classes: the daemon could not
be reached (:class:`CondorUnavailableError`) or it answered and refused (:class:`CondorRefusedError`).
Both are retried by the service with backoff; neither ever means "nothing happened" for a submit,
which is why a submit is always checked against the schedd before it is repeated.

Authentication is the host's: ``CONDOR_CONFIG``, IDTOKENs in ``tokens.d``, SSL/host certificates, as
configured for the bridge's Unix user.  Nothing here reads a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
        """Apply ``remove``/``hold``/``release`` to the jobs ``constraint`` selects; return how many changed."""
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


_CONNECT = re.compile(
    r"connect|locate|timed? ?out|timeout|unreachable|refused connection|no route|"
    r"authenticat|security session|communicat|reset by peer|broken pipe",
    re.I,
)


def translate(exc: BaseException, what: str) -> CondorError:
    """An ``htcondor2`` exception → :class:`CondorUnavailableError` or :class:`CondorRefusedError`."""
    text = f"{what}: {type(exc).__name__}: {exc}"
    if _CONNECT.search(str(exc)):
        return CondorUnavailableError(text)
    return CondorRefusedError(text)


# -- the real thing (htcondor2) -------------------------------------------------------------------
class HTCondorSchedd:
    """A schedd reached with ``htcondor2``: the local one (``name=None``) or ``name`` located in ``pool``."""

    def __init__(self, logical_name: str, *, name: str | None = None, pool: str | None = None) -> None:
        self.name = logical_name
        self.schedd_name = name
        self.pool = pool
        self._schedd: Any = None

    def __repr__(self) -> str:
        return f"HTCondorSchedd({self.name!r}, name={self.schedd_name!r}, pool={self.pool!r})"

    def _get(self) -> Any:
        if self._schedd is None:
            import htcondor2

            try:
                if self.schedd_name:
                    ad = htcondor2.Collector(self.pool).locate(htcondor2.DaemonType.Schedd, self.schedd_name)
                    self._schedd = htcondor2.Schedd(ad)
                else:
                    self._schedd = htcondor2.Schedd()
            except Exception as exc:
                raise CondorUnavailableError(
                    f"cannot locate schedd {self.schedd_name or '(local)'}: {exc}"
                ) from exc
        return self._schedd

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CondorError:
            raise
        except Exception as exc:
            self._schedd = None  # locate again next time: the schedd may have moved or restarted
            raise translate(exc, f"schedd {self.schedd_name or '(local)'} {what}") from exc

    def submit(self, description: Mapping[str, str], count: int) -> SubmitOutcome:
        import htcondor2

        schedd = self._get()
        try:
            sub = htcondor2.Submit(dict(description))
        except Exception as exc:
            raise CondorRefusedError(f"invalid submit description: {exc}") from exc
        result = self._call("submit", schedd.submit, sub, count=count)
        return SubmitOutcome(cluster=int(result.cluster()), procs=int(result.num_procs()))

    def query(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        schedd = self._get()
        ads = self._call(
            "query", schedd.query, constraint=constraint, projection=list(projection), limit=limit
        )
        return [ad_to_dict(ad, projection) for ad in ads]

    def history(
        self, constraint: str = "true", projection: Sequence[str] = (), limit: int = -1
    ) -> list[dict[str, Any]]:
        schedd = self._get()
        ads = self._call("history", schedd.history, constraint, list(projection), match=limit)
        return [ad_to_dict(ad, projection) for ad in ads]

    def act(self, action: str, constraint: str, reason: str = "") -> int:
        import htcondor2

        kinds = {
            "remove": htcondor2.JobAction.Remove,
            "hold": htcondor2.JobAction.Hold,
            "release": htcondor2.JobAction.Release,
        }
        schedd = self._get()
        result = self._call(action, schedd.act, kinds[action], constraint, reason or f"de-bridge {action}")
        return int(result.get("TotalSuccess", 0))


class HTCondorCollector:
    """A collector (or several, ``"a, b"``) reached with ``htcondor2``."""

    def __init__(self, logical_name: str, *, host: str | None = None) -> None:
        self.name = logical_name
        self.host = host
        self._collector: Any = None

    def __repr__(self) -> str:
        return f"HTCondorCollector({self.name!r}, host={self.host!r})"

    def _get(self) -> Any:
        if self._collector is None:
            import htcondor2

            self._collector = htcondor2.Collector(self.host)
        return self._collector

    def advertise(self, ads: Sequence[Mapping[str, Any]], command: str = "UPDATE_AD_GENERIC") -> None:
        collector = self._get()
        try:
            collector.advertise([to_classad(ad) for ad in ads], command, True)
        except Exception as exc:
            self._collector = None
            raise translate(exc, f"collector {self.host or '(local)'} {command}") from exc

    def query(
        self, ad_type: str = "any", constraint: str = "true", projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        import htcondor2

        types = {
            "any": htcondor2.AdType.Any,
            "startd": htcondor2.AdType.Startd,
            "schedd": htcondor2.AdType.Schedd,
            "master": htcondor2.AdType.Master,
            "collector": htcondor2.AdType.Collector,
            "negotiator": htcondor2.AdType.Negotiator,
            "generic": htcondor2.AdType.Generic,
            "submitter": htcondor2.AdType.Submitter,
        }
        collector = self._get()
        try:
            ads = collector.query(types[ad_type], constraint, list(projection) or None)
        except Exception as exc:
            self._collector = None
            raise translate(exc, f"collector {self.host or '(local)'} query") from exc
        return [ad_to_dict(ad, projection) for ad in ads]


def invalidation_ad(ad_type: str, constraint: str) -> dict[str, Any]:
    """The query ad of an ``INVALIDATE_ADS_GENERIC`` (as the original's ``invalidate_ads``)."""
    return {"MyType": "Query", "TargetType": ad_type, "Requirements": {"expr": constraint}}
