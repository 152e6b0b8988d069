"""Generate ``template.yaml`` (AWS SAM) from channel configs: ``de deploy generate channels/*.jsonnet``.

The generator is a list of *parts* (:data:`PARTS`): each is a module with
``contribute(ctx: DeployContext, template: Template) -> None`` that adds parameters, conditions,
resources and outputs.  A part module that is not installed is skipped (``ModuleNotFoundError`` for
that very module), so another part — the REST API's ``hepde_tools.deploy.api_part`` — plugs in by existing.
Parts run in order; a later part can refer to what an earlier one added (``template.resources``).

The output is deterministic (same configs → byte-identical text); ``--check`` and a test compare it
with the committed ``template.yaml``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepde.config.model import ChannelConfig, ModuleEntry
from hepde.errors import DEError
from hepde.runtime.channel import PreparedChannel
from hepde_tools.deploy import yamlout

#: the template's parts, in order; missing modules are skipped
PARTS: tuple[str, ...] = (
    "hepde_tools.deploy.core_part",
    "hepde_tools.deploy.channels_part",
    "hepde_tools.deploy.observability_part",
    "hepde_tools.deploy.api_part",
    "hepde_tools.deploy.triggers_part",
)

#: state-machine type of every channel unless overridden per channel (see docs/adr, Standard vs Express)
DEFAULT_WORKFLOW = "EXPRESS"
WORKFLOWS = ("EXPRESS", "STANDARD")
#: which sources get their own EventBridge schedule: every source, or only those of 2+ channels
SOURCE_SCHEDULES = ("all", "shared", "none")


class DeployError(DEError):
    """The template cannot be generated (missing state machine, clashing names, bad option)."""


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (letters and digits) from names: ``("Channel", "my-chan")`` → ``ChannelMyChan``."""
    words: list[str] = []
    for p in parts:
        words += [w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", p) if w]
    ident = "".join(words)
    if len(ident) > 200:
        ident = ident[:190] + hashlib.sha256(ident.encode()).hexdigest()[:10]
    return ident


def rate_expression(seconds: float) -> str:
    """EventBridge ``rate(...)`` for a schedule in seconds (minute granularity, at least one minute)."""
    minutes = max(1, round(float(seconds) / 60))
    return f"rate({minutes} minute{'s' if minutes != 1 else ''})"


@dataclass(frozen=True)
class SharedSource:
    """A source key with its own schedule, and the channels that read it."""

    entry: ModuleEntry
    channels: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass
class DeployContext:
    """What the parts generate from: the channels, in name order, and the generator's options."""

    channels: list[PreparedChannel]
    root: Path
    statemachines_dir: str = "statemachines"
    workflow: str = DEFAULT_WORKFLOW
    workflow_overrides: dict[str, str] = field(default_factory=dict)
    source_schedules: str = "all"
    config_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channels = sorted(self.channels, key=lambda c: c.name)
        if self.workflow not in WORKFLOWS:
            raise DeployError(f"workflow {self.workflow!r}: expected one of {', '.join(WORKFLOWS)}")
        unknown = set(self.workflow_overrides) - {c.name for c in self.channels}
        if unknown:
            raise DeployError(f"workflow override for unknown channel(s): {', '.join(sorted(unknown))}")
        if self.source_schedules not in SOURCE_SCHEDULES:
            raise DeployError(
                f"source schedules {self.source_schedules!r}: expected one of {', '.join(SOURCE_SCHEDULES)}"
            )
        ids: dict[str, str] = {}
        for ch in self.channels:
            ident = logical_id(ch.name)
            if ident in ids:
                raise DeployError(f"channels '{ids[ident]}' and '{ch.name}' map to the same resource names")
            ids[ident] = ch.name

    def workflow_of(self, channel: str) -> str:
        return self.workflow_overrides.get(channel, self.workflow)

    def configs(self) -> list[ChannelConfig]:
        return [c.config for c in self.channels]

    def sources(self) -> list[SharedSource]:
        """Every source key (configs were validated together: one key, one config), in key order."""
        users: dict[str, list[str]] = {}
        entries: dict[str, ModuleEntry] = {}
        for cfg in self.configs():
            for key, entry in cfg.sources.items():
                entries.setdefault(key, entry)
                users.setdefault(key, []).append(cfg.name)
        return [SharedSource(entries[k], tuple(sorted(users[k]))) for k in sorted(entries)]

    def scheduled_sources(self) -> list[SharedSource]:
        if self.source_schedules == "none":
            return []
        if self.source_schedules == "shared":
            return [s for s in self.sources() if len(s.channels) > 1]
        return self.sources()

    def definition_uri(self, channel: str) -> str:
        return f"{self.statemachines_dir}/{channel}.asl.json"


class Template:
    """A CloudFormation/SAM document under construction; adding a logical id twice is an error."""

    SECTIONS = ("Parameters", "Conditions", "Globals", "Resources", "Outputs")

    def __init__(self, description: str) -> None:
        self.doc: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Description": description,
            "Metadata": {},
            "Parameters": {},
            "Conditions": {},
            "Globals": {},
            "Resources": {},
            "Outputs": {},
        }

    @property
    def resources(self) -> dict[str, Any]:
        return self.doc["Resources"]

    def _add(self, section: str, name: str, body: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]+", name):
            raise DeployError(f"{section} logical id {name!r} must be letters and digits")
        if name in self.doc[section]:
            raise DeployError(f"{section} {name!r} is defined twice (two parts, or two channels, clash)")
        self.doc[section][name] = body

    def parameter(self, name: str, **body: Any) -> None:
        self._add("Parameters", name, body)

    def condition(self, name: str, body: Any) -> None:
        self._add("Conditions", name, body)

    def resource(self, name: str, type_: str, properties: dict[str, Any], **attributes: Any) -> None:
        self._add("Resources", name, {"Type": type_, **attributes, "Properties": properties})

    def output(self, name: str, value: Any, description: str, export: bool = False) -> None:
        body: dict[str, Any] = {"Description": description, "Value": value}
        if export:
            body["Export"] = {"Name": {"Fn::Sub": "${AWS::StackName}-" + name}}
        self._add("Outputs", name, body)

    def render(self, header: str = "") -> str:
        doc = {k: v for k, v in self.doc.items() if v or k not in self.SECTIONS + ("Metadata",)}
        return yamlout.dump(doc, header=header)


HEADER = """Generated by `de deploy generate` from the channel configs listed under Metadata.hepde.channels.
Do not edit by hand: change a channel config or tools/hepde_tools/deploy/*_part.py and regenerate
(`make template`); a test fails when this file and the generator disagree."""


def part_modules(parts: tuple[str, ...] = PARTS) -> list[Any]:
    """The importable part modules, in order (a part that is not installed is skipped)."""
    found = []
    for name in parts:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the part exists but something it imports is missing: a real error
                raise
    return found


def build(ctx: DeployContext, parts: tuple[str, ...] = PARTS) -> Template:
    missing = [c.name for c in ctx.channels if not (ctx.root / ctx.definition_uri(c.name)).is_file()]
    if missing:
        raise DeployError(
            "no committed state machine for channel(s) "
            + ", ".join(missing)
            + f" under {ctx.statemachines_dir}/: run `de asl` on their configs first"
        )
    template = Template(
        "HEPCloud Decision Engine on Step Functions, Lambda and DynamoDB "
        f"({len(ctx.channels)} channel(s): {', '.join(c.name for c in ctx.channels)})"
    )
    template.doc["Metadata"]["hepde"] = {
        "generator": "de deploy generate",
        "channels": list(ctx.config_paths) or [c.config.path for c in ctx.channels],
        "parts": [m.__name__ for m in part_modules(parts)],
        "workflow": ctx.workflow,
        "source_schedules": ctx.source_schedules,
    }
    for module in part_modules(parts):
        module.contribute(ctx, template)
    return template


def generate(ctx: DeployContext, parts: tuple[str, ...] = PARTS) -> str:
    """The text of ``template.yaml``."""
    return build(ctx, parts).render(HEADER)
