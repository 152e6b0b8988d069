"""Job routing: which jobs may go to which targets, as ClassAd expressions evaluated with ``classad2``.

A route is ``{name, jobs, targets, mpi}``: ``jobs`` is a ClassAd expression over a job ad
(``RequestCpus <= 8 && member(Owner, {"cms", "dune"})``), ``targets`` the target names it may use in
order of preference.  Routes are tried in their configured order; a job takes the first route whose
expression evaluates to ``true`` (``undefined`` and ``error`` do not match — HTCondor's three-valued
logic, not Python's truthiness).  A job no route takes is *unrouted* and counted as such.

Expressions are parsed when the channel is validated (``de validate``), so a typo is a config error
with the route's name, not a failure at 3 a.m.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from hepde.actions import check_classad_expression
from hepde.modules.base import ModuleParameters

#: job attributes unique per job: left out of the routing ads' cache key (not out of the ads)
PER_JOB_ATTRS = frozenset(
    {
        "ClusterId",
        "ProcId",
        "GlobalJobId",
        "QDate",
        "EnteredCurrentStatus",
        "JobStartDate",
        "LastJobStatus",
        "ServerTime",
        "JobCurrentStartDate",
        "RemoteHost",
        "ScheddName",
    }
)


class Route(ModuleParameters):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    #: ClassAd expression over the job ad
    jobs: str
    targets: list[str] = Field(min_length=1)
    #: ``pilot``: pilots for the jobs' cores; ``mpi``: each idle job submitted itself as one
    #: multi-node batch job on an MPI-capable target; ``lumberjack``: idle jobs exported in groups to
    #: a personal condor inside an allocation (see ``docs/hpc-modes.md``)
    mode: Literal["pilot", "mpi", "lumberjack"] = "pilot"
    #: the older spelling of ``mode: "mpi"``
    mpi: bool = False

    @model_validator(mode="after")
    def _mode(self) -> Route:
        if self.mpi and self.mode == "lumberjack":
            raise ValueError(f"route '{self.name}': 'mpi: true' and mode 'lumberjack' exclude each other")
        if self.mpi and self.mode == "pilot":
            object.__setattr__(self, "mode", "mpi")
        return self

    @field_validator("jobs")
    @classmethod
    def _expr(cls, v: str) -> str:
        return check_classad_expression(v, "'jobs'")


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    return value


def job_ad(record: dict[str, Any]) -> Any:
    """A job row (dict) → ``classad2.ClassAd``; missing values (None/NaN) left out (``undefined``)."""
    import classad2

    ad = classad2.ClassAd()
    for key, raw in record.items():
        value = _plain(raw)
        if value is None or isinstance(value, list | dict):
            continue
        try:
            ad[str(key)] = value
        except Exception:  # noqa: BLE001 - a value classad2 cannot hold is left undefined
            continue
    return ad


def route_jobs(jobs: pd.DataFrame, routes: Sequence[Route]) -> pd.Series:
    """The route name of every job (``None`` for unrouted), evaluated with ``classad2``."""
    import classad2

    if jobs.empty:
        return pd.Series([], dtype=object, index=jobs.index)
    exprs = [(r.name, classad2.ExprTree(r.jobs)) for r in routes]
    text = " ".join(r.jobs for r in routes)
    # per-job attributes are left out of the cache key unless an expression names them
    key_cols = [
        c
        for c in jobs.columns
        if c not in PER_JOB_ATTRS or re.search(rf"\b{re.escape(str(c))}\b", text, re.IGNORECASE)
    ]
    cache: dict[tuple[Any, ...], str | None] = {}
    out: list[str | None] = []
    for record in jobs.to_dict(orient="records"):
        key = tuple(_hashable(_plain(record.get(c))) for c in key_cols)
        if key not in cache:
            ad = job_ad(record)
            chosen = None
            for name, expr in exprs:
                try:
                    if expr.eval(ad) is True:
                        chosen = name
                        break
                except Exception:  # noqa: BLE001 - an evaluation error does not match
                    continue
            cache[key] = chosen
        out.append(cache[key])
    return pd.Series(out, index=jobs.index, dtype=object)


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return repr(value)
    return value
