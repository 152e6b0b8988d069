"""The simulated HTCondor pool and GlideinWMS factory of ``de simulate``.

A pilot (glidein) is one static slot of its entry's size (cores, memory, GPUs) for one frontend group.
Its life: the factory **submits** it (factory *idle*: queued at the site) → after ``queue_cycles`` it
starts and either **registers** an idle slot in the pool or **fails** (``held`` at the factory, or
``unregistered``: it runs at the site and never reports) → the negotiator gives it jobs that fit
(cores, memory, GPUs, ``DESIRED_Sites``, and a walltime that its remaining lifetime covers: the
glidein's START expression) → it ends at its lifetime, after ``max_idle_hours`` unclaimed, or when the
factory removes it (``ReqRemoveExcess``: ``WAIT`` removes queued pilots, ``IDLE`` also unclaimed
registered ones, ``ALL`` also busy ones; ``ReqRemoveExcessMargin`` excess pilots are kept).

The factory acts on the last request it received for each (entry, group): it keeps
``ReqIdleGlideins`` pilots queued, within ``ReqMaxGlideins`` pilots in all (queued + started) and its
entry's ``max_glideins``; a request older than ``request_lifetime_cycles`` has expired (zero).

The products the channel's sources would return are built from this state: ``job_manifests`` (schedd
job ads), ``startd_manifests`` (slot ads), ``Factory_Entries`` (glidefactory ads), ``factoryglobal_manifests``
and ``factoryclient_manifests`` (the glidefactoryclient ads: held/idle/running per entry and client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hepde.modules.glideinwms.entries import by_type
from hepde_tools.simulate.scenario import Entry, JobStream, Scenario

FACTORY = "factory.example.org"
GLIDEIN = "gfactory_instance"
FACTORY_NAME = "OSG"
POOL = "pool.example.org"
T0 = 1_750_000_000.0
CREDENTIAL = "package://hepde/data/htc/credentials/frontend.scitoken"

QUEUED, HELD, LOST, IDLE, BUSY, GONE = "queued", "held", "unregistered", "idle", "busy", "gone"


def request_name(entry: str) -> str:
    return f"{entry}@{GLIDEIN}@{FACTORY_NAME}"


@dataclass
class Pilot:
    pid: int
    entry: str
    group: str
    submitted: int
    state: str = QUEUED
    started: int = -1
    end_time: float = 0.0  # simulated seconds: the pilot's lifetime ends
    idle_since: float = 0.0
    job: int = -1
    ran_jobs: int = 0
    state_since: int = 0


@dataclass
class Job:
    jid: int
    stream: int
    status: int  # 1 idle, 2 running, 4 done
    entered: float
    pilot: int = -1
    ends_at: float = 0.0


@dataclass
class Request:
    idle: int
    max: int
    remove_excess: str
    margin: int
    cycle: int


@dataclass
class CycleCounts:
    submitted: int = 0
    failed: int = 0
    removed: int = 0
    removed_fraction: float = 0.0  # the largest fraction of one entry's pilots removed this cycle


@dataclass
class SimPool:
    scenario: Scenario
    frontend_name: str
    credential_id: str
    pilots: list[Pilot] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    requests: dict[tuple[str, str], Request] = field(default_factory=dict)
    cycle: int = 0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1))
    #: pilots that failed at a failing entry, all cycles
    failed_total: int = 0
    #: pilots that registered and ended without running any job
    unused_ended: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.scenario.seed)
        self.entries: dict[str, Entry] = {e.name: e for e in self.scenario.entries}
        for s, stream in enumerate(self.scenario.jobs):
            self._arrive(s, stream.initial, T0 - 1200.0)

    # -- time ------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return T0 + self.cycle * self.scenario.cycle_minutes * 60.0

    def _arrive(self, stream: int, n: int, at: float) -> None:
        base = len(self.jobs)
        self.jobs.extend(Job(jid=base + i, stream=stream, status=1, entered=at) for i in range(n))

    def lifetime(self, entry: Entry) -> float:
        return (entry.lifetime_hours or self.scenario.pilots.lifetime_hours) * 3600.0

    def failing(self, entry: Entry, cycle: int) -> bool:
        if entry.failure_rate <= 0:
            return False
        if not entry.failing_cycles:
            return True
        return any(a <= cycle <= b for a, b in entry.failing_cycles)

    # -- the factory -------------------------------------------------------------------------------
    def publish(self, requests: dict[tuple[str, str], Request]) -> None:
        """The factory receives new glideclient ads (entry, group) → request (replacing older ones)."""
        self.requests.update(requests)

    def factory_cycle(self) -> CycleCounts:
        counts = CycleCounts()
        life = self.scenario.pilots.request_lifetime_cycles
        by_key: dict[tuple[str, str], list[Pilot]] = {}
        for p in self.pilots:
            if p.state != GONE:
                by_key.setdefault((p.entry, p.group), []).append(p)
        for key, req in self.requests.items():
            entry_name, group = key
            entry = self.entries.get(entry_name)
            if entry is None:
                continue
            if self.cycle - req.cycle > life:  # the ad expired: no request, and no removal
                req = Request(0, 0, "NO", 0, req.cycle)
            mine = by_key.get(key, [])
            queued = [p for p in mine if p.state == QUEUED]
            started = [p for p in mine if p.state in (IDLE, BUSY, LOST)]
            # removals (ReqRemoveExcess): queued first, then unclaimed registered pilots; never busy ones
            if req.remove_excess in ("WAIT", "IDLE", "ALL"):
                excess_q = len(queued) - req.idle - req.margin
                removed = 0
                for p in sorted(queued, key=lambda x: -x.submitted)[: max(excess_q, 0)]:
                    p.state = GONE
                    removed += 1
                if req.remove_excess in ("IDLE", "ALL"):
                    alive = len(queued) - removed + len(started)
                    excess = alive - req.max - req.margin
                    candidates = [p for p in started if p.state == IDLE] + (
                        [p for p in started if p.state == BUSY] if req.remove_excess == "ALL" else []
                    )
                    for p in candidates[: max(excess, 0)]:
                        self._end(p)
                        removed += 1
                if removed:
                    counts.removed += removed
                    counts.removed_fraction = max(counts.removed_fraction, removed / max(len(mine), 1))
                queued = [p for p in queued if p.state == QUEUED]
                started = [p for p in started if p.state != GONE]
            # submissions: keep `idle` queued, within `max` in all and the entry's limit
            entry_total = sum(1 for p in self.pilots if p.entry == entry_name and p.state != GONE)
            room = min(
                req.idle - len(queued),
                req.max - len(queued) - len(started),
                entry.max_glideins - entry_total,
                self.scenario.pilots.max_submit_per_cycle,
            )
            for _ in range(max(room, 0)):
                self.pilots.append(
                    Pilot(pid=len(self.pilots), entry=entry_name, group=group, submitted=self.cycle)
                )
                counts.submitted += 1
        return counts

    def _end(self, p: Pilot) -> None:
        if p.state == BUSY and p.job >= 0:  # only ReqRemoveExcess ALL does this: the job is evicted
            job = self.jobs[p.job]
            job.status, job.pilot, job.entered = 1, -1, self.now
        if p.state == IDLE and p.ran_jobs == 0:
            self.unused_ended += 1
        p.state, p.job = GONE, -1

    # -- the site and the pool ---------------------------------------------------------------------
    def advance(self) -> int:
        """One cycle of time: pilots start or fail, jobs finish, pilots end, the negotiator matches.

        Returns the number of pilots that failed this cycle."""
        sc = self.scenario
        self.cycle += 1
        now = self.now
        failed = 0
        for p in self.pilots:
            if p.state == QUEUED and self.cycle - p.submitted >= max(sc.pilots.queue_cycles, 1):
                entry = self.entries[p.entry]
                p.started, p.state_since = self.cycle, self.cycle
                p.end_time = now + self.lifetime(entry)
                if self.failing(entry, self.cycle) and self.rng.random() < entry.failure_rate:
                    p.state = HELD if entry.failure_mode == "held" else LOST
                    failed += 1
                else:
                    p.state, p.idle_since = IDLE, now
            elif p.state == HELD and self.cycle - p.state_since >= sc.pilots.held_cycles:
                p.state = GONE
            elif p.state == LOST and now >= p.end_time:
                p.state = GONE
        self.failed_total += failed
        for job in self.jobs:
            if job.status == 2 and now >= job.ends_at:
                job.status = 4
                p = self.pilots[job.pilot]
                p.state, p.job, p.idle_since = IDLE, -1, now
        for p in self.pilots:
            if p.state == IDLE:
                max_idle = sc.pilots.max_idle_hours
                if now >= p.end_time or (max_idle is not None and now - p.idle_since >= max_idle * 3600.0):
                    self._end(p)
        for s, stream in enumerate(sc.jobs):
            self._arrive(s, stream.rate(self.cycle), now - 60.0)
        self.negotiate()
        return failed

    def _fits(self, stream: JobStream, entry: Entry, remaining: float) -> bool:
        return (
            entry.cpus >= stream.cpus
            and entry.memory_mb >= stream.memory_mb
            and entry.gpus >= stream.gpus
            and (not stream.desired_sites or entry.site in stream.desired_sites)
            and remaining >= stream.walltime_hours * 3600.0
        )

    def negotiate(self) -> None:
        now = self.now
        free: dict[str, list[Pilot]] = {}
        for p in self.pilots:
            if p.state == IDLE:
                free.setdefault(p.entry, []).append(p)
        for lst in free.values():
            lst.sort(key=lambda x: -x.end_time)  # the longest remaining lifetime first
        for job in self.jobs:
            if job.status != 1:
                continue
            stream = self.scenario.jobs[job.stream]
            for entry_name, lst in free.items():
                if not lst:
                    continue
                p = lst[0]
                if self._fits(stream, self.entries[entry_name], p.end_time - now):
                    lst.pop(0)
                    p.state, p.job = BUSY, job.jid
                    p.ran_jobs += 1
                    job.status, job.pilot = 2, p.pid
                    job.ends_at = now + stream.walltime_hours * stream.runtime_fraction * 3600.0
                    job.entered = now
                    break

    # -- what the sources see ------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        c = {QUEUED: 0, HELD: 0, LOST: 0, IDLE: 0, BUSY: 0}
        for p in self.pilots:
            if p.state in c:
                c[p.state] += 1
        c["jobs_idle"] = sum(1 for j in self.jobs if j.status == 1)
        c["jobs_running"] = sum(1 for j in self.jobs if j.status == 2)
        return c

    def job_ads(self) -> pd.DataFrame:
        rows = []
        for j in self.jobs:
            if j.status not in (1, 2):
                continue
            s = self.scenario.jobs[j.stream]
            rows.append(
                {
                    "ClusterId": 1000 + j.jid // 10,
                    "ProcId": j.jid % 10,
                    "JobStatus": j.status,
                    "RequestCpus": s.cpus,
                    "RequestMemory": s.memory_mb,
                    "RequestGPUs": s.gpus,
                    "CMS_JobType": s.job_type,
                    "DESIRED_Sites": ",".join(s.desired_sites) if s.desired_sites else None,
                    "EnteredCurrentStatus": int(j.entered),
                    "ServerTime": int(self.now),
                    "MaxWallTimeMins": int(s.walltime_hours * 60),
                    "x509userproxy": "",
                    "x509UserProxyFirstFQAN": "",
                    "VO": "cms",
                    "RemoteHost": self.slot_name(self.pilots[j.pilot]) if j.status == 2 else None,
                    "ScheddName": "schedd0@submit.example.org",
                    "CollectorHost": POOL,
                }
            )
        return pd.DataFrame(rows)

    @staticmethod
    def slot_name(p: Pilot) -> str:
        return f"slot1@glidein_{p.pid}@wn{p.pid}.{p.entry.lower()}.example.org"

    def slot_ads(self) -> pd.DataFrame:
        rows = []
        for p in self.pilots:
            if p.state not in (IDLE, BUSY):
                continue
            e = self.entries[p.entry]
            rows.append(
                {
                    "Name": self.slot_name(p),
                    "State": "Claimed" if p.state == BUSY else "Unclaimed",
                    "Activity": "Busy" if p.state == BUSY else "Idle",
                    "SlotType": "Static",
                    "Cpus": e.cpus,
                    "TotalCpus": e.cpus,
                    "Memory": e.memory_mb,
                    "GPUs": e.gpus,
                    "TotalSlots": 1,
                    "TotalSlotCpus": e.cpus,
                    "GLIDECLIENT_NAME": f"{self.frontend_name}.{p.group}",
                    "GLIDEIN_Entry_Name": p.entry,
                    "GLIDEIN_ENTRY_NAME": p.entry,
                    "GLIDEIN_Name": GLIDEIN,
                    "GLIDEIN_FACTORY": FACTORY_NAME,
                    "GLIDEIN_Factory": FACTORY_NAME,
                    "GLIDEIN_Schedd": f"schedd_glideins2@{FACTORY}:9618",
                    "GLIDEIN_Site": e.site,
                    "GLIDEIN_CMSSite": e.site,
                    "GLIDEIN_CredentialIdentifier": self.credential_id,
                    "GLIDEIN_GridType": "condor",
                    "GLIDEIN_ToDie": int(p.end_time),
                    "GLIDEIN_ToRetire": int(p.end_time),
                    "CollectorHost": POOL,
                    "CollectorHosts": POOL,
                }
            )
        return pd.DataFrame(rows)

    def entry_ads(self) -> pd.DataFrame:
        rows = []
        for e in self.scenario.entries:
            mine = [p for p in self.pilots if p.entry == e.name and p.state != GONE]
            rows.append(
                {
                    "Name": request_name(e.name),
                    "EntryName": e.name,
                    "GLIDEIN_GridType": "condor",
                    "GLIDEIN_Site": e.site,
                    "GLIDEIN_CMSSite": e.site,
                    "GLIDEIN_CPUS": str(e.cpus),
                    "GLIDEIN_ESTIMATED_CPUS": float(e.cpus),
                    "GLIDEIN_GPUs": e.gpus,
                    "GLIDEIN_MaxMemMBs": e.memory_mb,
                    "GLIDEIN_Max_Walltime": int(self.lifetime(e)),
                    "GLIDEIN_Supported_VOs": "CMS",
                    "GLIDEIN_In_Downtime": "False",
                    "GLIDEIN_TrustDomain": "grid",
                    "GLIDEIN_SupportedAuthenticationMethod": "scitoken",
                    "GlideinMonitorTotalStatusRunning": sum(1 for p in mine if p.state in (IDLE, BUSY, LOST)),
                    "GlideinMonitorTotalStatusIdle": sum(1 for p in mine if p.state == QUEUED),
                    "GlideinMonitorTotalStatusHeld": sum(1 for p in mine if p.state == HELD),
                    "GlideinConfigPerEntryMaxGlideins": e.max_glideins,
                    "GlideinConfigPerEntryMaxIdle": 2000,
                    "CollectorHost": FACTORY,
                    "CollectorHosts": FACTORY,
                }
            )
        return by_type(pd.DataFrame(rows))

    def factory_client_ads(self) -> pd.DataFrame:
        rows = []
        keys = sorted({(p.entry, p.group) for p in self.pilots})
        for entry, group in keys:
            mine = [p for p in self.pilots if p.entry == entry and p.group == group and p.state != GONE]
            req = self.requests.get((entry, group))
            rows.append(
                {
                    "Name": f"{request_name(entry)}@{self.frontend_name}.{group}",
                    "MyType": "glidefactoryclient",
                    "GlideinMyType": "glidefactoryclient",
                    "ReqClientName": f"{self.frontend_name}.{group}",
                    "ReqGlidein": request_name(entry),
                    "ReqEntryName": entry,
                    "GlideinMonitorStatusIdle": sum(1 for p in mine if p.state == QUEUED),
                    "GlideinMonitorStatusRunning": sum(1 for p in mine if p.state in (IDLE, BUSY, LOST)),
                    "GlideinMonitorStatusHeld": sum(1 for p in mine if p.state == HELD),
                    "GlideinMonitorRequestedIdle": req.idle if req else 0,
                    "GlideinMonitorRequestedMaxGlideins": req.max if req else 0,
                    "CollectorHost": FACTORY,
                }
            )
        return pd.DataFrame(rows)

    def factory_global_ads(self) -> pd.DataFrame:
        from hepde_tools.synth.workload import public_key_pem

        return pd.DataFrame(
            [
                {
                    "Name": f"{GLIDEIN}@{FACTORY_NAME}",
                    "FactoryName": FACTORY_NAME,
                    "GlideinName": GLIDEIN,
                    "AuthenticatedIdentity": f"gfactory@{FACTORY}",
                    "PubKeyID": "simkey0001",
                    "PubKeyType": "RSA",
                    "PubKeyValue": public_key_pem().replace("\n", "\\n"),
                    "CollectorHost": FACTORY,
                    "CollectorHosts": FACTORY,
                }
            ]
        )

    def products(self, outage: set[str]) -> dict[str, Any]:
        """The sources' products this cycle (an outage returns an empty answer, as #634's collector did)."""
        return {
            "job_manifests": pd.DataFrame() if "schedds" in outage else self.job_ads(),
            "startd_manifests": pd.DataFrame() if "collector" in outage else self.slot_ads(),
            "Factory_Entries": self.entry_ads(),
            "factoryglobal_manifests": self.factory_global_ads(),
            "factoryclient_manifests": self.factory_client_ads(),
        }
