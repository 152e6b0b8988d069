"""The GlideinWMS frontend description, typed: the content of the original's ``glideinwms.libsonnet``.

The original ran ``configure_gwms_frontend.py`` to turn that Jsonnet into a frontend work area and a
Python-literal ``de_frontend_config`` file that the glidein-request transform ``eval()``-ed on every
cycle.  Here the same content is a parameter of the transform (``frontend: import
'glideinwms.libsonnet'`` in the channel file, or a path/``package://`` location of a Jsonnet/JSON
file), validated when the channel is validated; no GlideinWMS install and no work area.

Limits are read the way GlideinWMS derives its ``de_frontend_config`` group entries (§4.3.1):

==========================  ====================================================
group value                 from
==========================  ====================================================
``max_running``             group ``running_glideins_per_entry.max``
``min_running``             group ``running_glideins_per_entry.min``
``fraction_running``        group ``running_glideins_per_entry.relative_to_queue``
``max_idle`` / ``reserve_idle``  group ``idle_glideins_per_entry.max`` / ``.reserve``
``max_vms_idle`` / ``curb_vms_idle``  group ``idle_vms_per_entry.max`` / ``.curb``
``total_*_glideins``        group ``running_glideins_total.max`` / ``.curb``
``total_*_vms_idle``        group ``idle_vms_total.max`` / ``.curb``
``fe_total_*``              frontend ``config.running_glideins_total`` / ``idle_vms_total``
``global_total_*``          frontend ``config.*_global``
==========================  ====================================================

Values may be strings (as GlideinWMS writes them) or numbers.  New, optional, per group under
``config.decision_engine`` (defaults give the original behaviour except where noted):
``ramp_up_attenuation`` (3: request 1/3 of the deficit per cycle), ``max_new_idle_per_entry`` and
``max_new_idle_per_group`` (per-cycle caps, none by default), ``usable_idle_slots``
(``"fits_queued_jobs"``: an idle slot counts only if a queued job of the cluster fits it, or
``"original"``: the original's rule) with ``partitionable_min_memory_mb`` (2500, the original's
hard-coded threshold) and ``usable_slot_min_memory_mb`` (0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hepde.errors import DEError


class FrontendConfigError(DEError):
    """The frontend description is missing, unreadable or invalid."""


class _Open(BaseModel):
    """GlideinWMS sections: the keys this project reads are typed, the others are kept as they are."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CurbMax(_Open):
    curb: int = 0
    max: int = 0


class PerEntryRunning(_Open):
    max: int = 10000
    min: int = 0
    relative_to_queue: float = 1.15


class PerEntryIdle(_Open):
    max: int = 100
    reserve: int = 5


class DecisionEngineKnobs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ramp_up_attenuation: float = Field(default=3.0, gt=0)
    max_new_idle_per_entry: int | None = Field(default=None, ge=0)
    max_new_idle_per_group: int | None = Field(default=None, ge=0)
    usable_idle_slots: Literal["fits_queued_jobs", "original"] = "fits_queued_jobs"
    partitionable_min_memory_mb: float = 2500.0
    usable_slot_min_memory_mb: float = 0.0


class GroupLimits(_Open):
    idle_glideins_per_entry: PerEntryIdle = PerEntryIdle()
    idle_vms_per_entry: CurbMax = CurbMax(curb=5, max=100)
    idle_vms_total: CurbMax = CurbMax(curb=200, max=1000)
    running_glideins_per_entry: PerEntryRunning = PerEntryRunning()
    running_glideins_total: CurbMax = CurbMax(curb=90000, max=100000)
    decision_engine: DecisionEngineKnobs = DecisionEngineKnobs()


class FrontendLimits(_Open):
    idle_vms_total: CurbMax = CurbMax(curb=200, max=1000)
    idle_vms_total_global: CurbMax = CurbMax(curb=200, max=1000)
    running_glideins_total: CurbMax = CurbMax(curb=90000, max=100000)
    running_glideins_total_global: CurbMax = CurbMax(curb=90000, max=100000)


class Collector(_Open):
    node: str
    factory_identity: str = ""
    my_identity: str = ""
    DN: str = ""


class Credential(_Open):
    """A credential *reference*: ``absfname`` is a path, ``s3://`` or ``package://`` location, never the secret."""

    absfname: str
    security_class: str = "frontend"
    trust_domain: str = "grid"
    type: str = "scitoken"
    pilotabsfname: str | None = None
    keyabsfname: str | None = None
    project_id: str | None = None
    vm_id: str | None = None
    vm_type: str | None = None
    remote_username: str | None = None


class Security(_Open):
    proxy_selection_plugin: str = "ProxyAll"
    security_name: str = ""
    sym_key: str = "aes_256_cbc"
    credentials: list[Credential] | dict[str, Any] = []

    def credential_list(self) -> list[Credential]:
        return list(self.credentials) if isinstance(self.credentials, list) else []


class Attr(_Open):
    value: Any = ""
    type: str = "string"
    parameter: bool | str = True
    glidein_publish: bool | str = False
    job_publish: bool | str = False


class FactoryMatch(_Open):
    collectors: list[Collector] | dict[str, Any] = []


class Match(_Open):
    factory: FactoryMatch = FactoryMatch()


class SignDescript(_Open):
    signature_type: str = "sha1"
    frontend_descript_fname: str = ""
    frontend_descript_signature: str = ""
    group_descript_fname: str = ""
    group_descript_signature: str = ""


class Group(_Open):
    enabled: bool | str = True
    config: GroupLimits = GroupLimits()
    match: Match = Match()
    security: Security = Security()
    attrs: dict[str, Attr] = {}
    sign_descript: SignDescript = SignDescript()


class Stage(_Open):
    web_base_url: str = ""


class FrontendDescription(_Open):
    frontend_name: str
    config: FrontendLimits = FrontendLimits()
    match: Match = Match()
    security: Security = Security()
    attrs: dict[str, Attr] = {}
    stage: Stage = Stage()
    monitoring_web_url: str = ""
    groups: dict[str, Group]


def _truth(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


class GroupSettings(BaseModel):
    """Everything the request computation needs for one frontend group (the original's ``group`` dict)."""

    model_config = ConfigDict(frozen=True)

    frontend_name: str
    group: str
    min_running: int
    max_running: int
    fraction_running: float
    max_idle: int
    reserve_idle: int
    max_vms_idle: int
    curb_vms_idle: int
    total_max_glideins: int
    total_curb_glideins: int
    total_max_vms_idle: int
    total_curb_vms_idle: int
    fe_total_max_glideins: int
    fe_total_curb_glideins: int
    fe_total_max_vms_idle: int
    fe_total_curb_vms_idle: int
    global_total_max_glideins: int
    global_total_curb_glideins: int
    global_total_max_vms_idle: int
    global_total_curb_vms_idle: int
    security_name: str
    collectors: list[Collector]
    credentials: list[Credential]
    params: dict[str, Any]
    web_url: str
    monitoring_web_url: str
    sign: SignDescript
    knobs: DecisionEngineKnobs

    @property
    def client_name(self) -> str:
        return f"{self.frontend_name}.{self.group}"

    def my_identity(self, factory_pool: str, factory_identity: str | None = None) -> str | None:
        for col in self.collectors:
            if col.node == factory_pool and (
                factory_identity is None or col.factory_identity == factory_identity
            ):
                return col.my_identity
        return None


class Frontend:
    """A validated frontend description; :meth:`group` gives one group's settings."""

    def __init__(self, description: FrontendDescription) -> None:
        self.description = description
        self._groups: dict[str, GroupSettings] = {}

    @classmethod
    def from_value(cls, value: Any, where: str = "frontend") -> Frontend:
        from hepde.modules.glideinwms.saved_frontend import description_from_saved, looks_saved

        if isinstance(value, str):
            where = value
            value = load_description(value)
        if looks_saved(value):  # the original's de_frontend_config (FrontendConfiguration.save())
            try:
                value = description_from_saved(value)
            except DEError as exc:
                raise FrontendConfigError(f"{where}: {exc}") from None
        try:
            return cls(FrontendDescription.model_validate(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise FrontendConfigError(
                f"{where}.{loc}: {first['msg']} ({len(exc.errors())} problem(s))"
            ) from exc

    @property
    def name(self) -> str:
        return self.description.frontend_name

    def group(self, name: str) -> GroupSettings:
        if name in self._groups:
            return self._groups[name]
        d = self.description
        g = d.groups.get(name)
        if g is None:
            raise FrontendConfigError(
                f"frontend group '{name}' is not configured (groups: {', '.join(sorted(d.groups)) or 'none'})"
            )
        c, fe = g.config, d.config
        collectors = [
            c for c in (g.match.factory.collectors if isinstance(g.match.factory.collectors, list) else [])
        ]
        collectors += [
            c for c in (d.match.factory.collectors if isinstance(d.match.factory.collectors, list) else [])
        ]
        params = {}
        for attrs in (d.attrs, g.attrs):
            for key, attr in attrs.items():
                if _truth(attr.parameter):
                    params[key] = _typed(attr)
        base = d.stage.web_base_url.rstrip("/")
        settings = GroupSettings(
            frontend_name=d.frontend_name,
            group=name,
            min_running=c.running_glideins_per_entry.min,
            max_running=c.running_glideins_per_entry.max,
            fraction_running=c.running_glideins_per_entry.relative_to_queue,
            max_idle=c.idle_glideins_per_entry.max,
            reserve_idle=c.idle_glideins_per_entry.reserve,
            max_vms_idle=c.idle_vms_per_entry.max,
            curb_vms_idle=c.idle_vms_per_entry.curb,
            total_max_glideins=c.running_glideins_total.max,
            total_curb_glideins=c.running_glideins_total.curb,
            total_max_vms_idle=c.idle_vms_total.max,
            total_curb_vms_idle=c.idle_vms_total.curb,
            fe_total_max_glideins=fe.running_glideins_total.max,
            fe_total_curb_glideins=fe.running_glideins_total.curb,
            fe_total_max_vms_idle=fe.idle_vms_total.max,
            fe_total_curb_vms_idle=fe.idle_vms_total.curb,
            global_total_max_glideins=fe.running_glideins_total_global.max,
            global_total_curb_glideins=fe.running_glideins_total_global.curb,
            global_total_max_vms_idle=fe.idle_vms_total_global.max,
            global_total_curb_vms_idle=fe.idle_vms_total_global.curb,
            security_name=g.security.security_name or d.security.security_name,
            collectors=collectors,
            credentials=d.security.credential_list() + g.security.credential_list(),
            params=params,
            web_url=base,
            monitoring_web_url=d.monitoring_web_url,
            sign=g.sign_descript,
            knobs=c.decision_engine,
        )
        self._groups[name] = settings
        return settings


def _typed(attr: Attr) -> Any:
    if attr.type == "int":
        try:
            return int(attr.value)
        except (TypeError, ValueError):
            return attr.value
    return attr.value if isinstance(attr.value, str) else json.dumps(attr.value)


def load_description(location: str) -> Any:
    """Read a frontend description from a Jsonnet/JSON file (path or ``package://``)."""
    from hepde.modules.tables import read_bytes

    try:
        text = read_bytes(location).decode()
    except UnicodeDecodeError as exc:
        raise FrontendConfigError(f"'{location}' is not text: {exc}") from None
    except DEError as exc:
        raise FrontendConfigError(f"cannot read the frontend description: {exc}") from exc
    if location.endswith((".jsonnet", ".libsonnet")):
        import _jsonnet

        try:
            base = str(Path(location).parent) if not location.startswith(("s3://", "package://")) else ""
            return json.loads(_jsonnet.evaluate_snippet(location, text, jpathdir=[base] if base else []))
        except RuntimeError as exc:
            raise FrontendConfigError(f"'{location}': {exc}") from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    # the original's de_frontend_config: a Python-literal dict, parsed without evaluating code
    from hepde.modules.glideinwms.saved_frontend import parse_literal

    try:
        return parse_literal(text, location)
    except DEError as exc:
        raise FrontendConfigError(str(exc)) from None
