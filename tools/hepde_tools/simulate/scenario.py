"""A ``de simulate`` scenario: a small TOML file (comments document it), validated with one-line errors.

Bundled: ``steady``, ``burst``, ``black_hole``, ``demand_drop``, ``collector_outage``, ``pinned_sites``
(``hepde_tools/simulate/scenarios/*.toml``); ``de simulate path/to/mine.toml`` runs a user's own.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hepde.errors import DEError


class ScenarioError(DEError):
    """A scenario file cannot be read or is not a valid scenario."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(_Model):
    #: factory entry name (``EntryName``); the request name is ``<name>@gfactory_instance@OSG``
    name: str
    #: ``GLIDEIN_CMSSite`` / ``GLIDEIN_Site`` (the channel's site buckets match on its prefix)
    site: str
    cpus: int = Field(default=1, ge=1)
    memory_mb: int = Field(default=2500, ge=1)
    gpus: int = Field(default=0, ge=0)
    #: the factory's per-entry limit (``GlideinConfigPerEntryMaxGlideins``)
    max_glideins: int = Field(default=1000, ge=1)
    #: pilot lifetime at this entry (hours; ``GLIDEIN_Max_Walltime``); default: the scenario's
    lifetime_hours: float | None = Field(default=None, gt=0)
    #: fraction of the pilots that start here and fail (never register a slot)
    failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: how a failing pilot fails: ``held`` (the factory sees it held) or ``unregistered`` (it runs, no slot)
    failure_mode: Literal["held", "unregistered"] = "held"
    #: cycles during which the failure rate applies (default: all); a list of [first, last] pairs
    failing_cycles: list[tuple[int, int]] = []


class JobStream(_Model):
    #: ``CMS_JobType`` (the channel's job buckets match on it)
    job_type: str = "Production"
    cpus: int = Field(default=1, ge=1)
    memory_mb: int = Field(default=2000, ge=0)
    gpus: int = Field(default=0, ge=0)
    #: ``MaxWallTimeMins``, in hours
    walltime_hours: float = Field(default=4.0, gt=0)
    #: what a job really runs, as a fraction of its walltime
    runtime_fraction: float = Field(default=0.8, gt=0, le=1.0)
    #: ``DESIRED_Sites`` (comma-joined in the ad); empty = anywhere
    desired_sites: list[str] = []
    #: jobs queued before the first cycle
    initial: int = Field(default=0, ge=0)
    #: ``[[from_cycle, jobs_per_cycle], ...]``: the arrival rate from that cycle on
    arrivals: list[tuple[int, int]] = []

    def rate(self, cycle: int) -> int:
        rate = 0
        for start, per_cycle in sorted(self.arrivals):
            if cycle >= start:
                rate = per_cycle
        return rate


class Outage(_Model):
    #: ``schedds``: the job queue query returns no jobs; ``collector``: the pool returns no slots
    what: Literal["schedds", "collector"]
    from_cycle: int = Field(ge=0)
    to_cycle: int = Field(ge=0)

    @model_validator(mode="after")
    def _order(self) -> Outage:
        if self.to_cycle < self.from_cycle:
            raise ValueError("to_cycle must not be before from_cycle")
        return self


class Pilots(_Model):
    #: default pilot lifetime (hours)
    lifetime_hours: float = Field(default=24.0, gt=0)
    #: an idle (unclaimed) pilot exits after this many hours (GLIDEIN_Max_Idle); default: never
    max_idle_hours: float | None = Field(default=None, gt=0)
    #: cycles a submitted pilot waits in the site's queue before it starts
    queue_cycles: int = Field(default=1, ge=0)
    #: cycles a held pilot stays in the factory's queue before the factory removes it
    held_cycles: int = Field(default=6, ge=1)
    #: cycles the factory keeps acting on the last request when no new one was published (ad lifetime)
    request_lifetime_cycles: int = Field(default=2, ge=0)
    #: most pilots the factory submits to one entry in one cycle
    max_submit_per_cycle: int = Field(default=100, ge=1)


class Scenario(_Model):
    name: str = ""
    description: str
    cycles: int = Field(default=48, ge=1, le=2000)
    cycle_minutes: float = Field(default=10.0, gt=0)
    seed: int = 1
    #: the channel whose decision code runs (relative to the current directory)
    channel: str = "channels/htc_pilot.jsonnet"
    pilots: Pilots = Pilots()
    entries: list[Entry] = Field(min_length=1)
    jobs: list[JobStream] = Field(min_length=1)
    outages: list[Outage] = []
    #: cycles counted by ``cycles_to_fill`` start here (e.g. the cycle a burst arrives)
    fill_from_cycle: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        names = [e.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ValueError("entry names must be unique")
        return self

    @property
    def cycle_hours(self) -> float:
        return self.cycle_minutes / 60.0


BUNDLED = ("steady", "burst", "black_hole", "demand_drop", "collector_outage", "pinned_sites", "bucket_order")


def bundled_text(name: str) -> str:
    return resources.files("hepde_tools.simulate").joinpath("scenarios", f"{name}.toml").read_text()


def load_scenario(spec: str) -> Scenario:
    """A bundled scenario by name, or a TOML file by path."""
    if spec in BUNDLED:
        text, where = bundled_text(spec), f"scenario '{spec}'"
        default_name = spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise ScenarioError(
                f"scenario '{spec}': not a bundled scenario ({', '.join(BUNDLED)}) and no such file"
            )
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot be read: {exc}") from exc
        where, default_name = str(path), path.stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from exc
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise ScenarioError(f"{where}: {key}: {err['msg']}{more}") from exc
    if not scenario.name:
        scenario = scenario.model_copy(update={"name": default_name})
    return scenario
