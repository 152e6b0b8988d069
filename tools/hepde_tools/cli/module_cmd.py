"""``de module run MODULE --params PARAMS.json [--product NAME=FILE ...] --out DIR``.

Runs one module outside any channel, as the original's ``python -m <module> -c config`` did.
Inputs by extension: ``.csv``/``.parquet`` are tables; ``.json`` holding a list of objects is a
table, any other JSON value is that value.  Every output product is written as ``DIR/<name>.json``
(a table as a list of objects).  A logic engine writes ``actions.json`` and
``de_logicengine_facts.json``; a publisher writes ``publish_result.json``.

The module gets an in-memory module context (:func:`hepde.modules.context.FakeContext`, generation 0):
nothing leaves the machine.  What it sent to a bridge actions queue is written to
``DIR/queued_actions.json`` and the records it wrote to ``DIR/records.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from hepde.errors import DEError, ModuleResolutionError
from hepde.modules.base import (
    LogicEngineBase,
    Module,
    Publisher,
    PublishResult,
    Source,
    Transform,
    check_declared_types,
)
from hepde.modules.context import FakeContext
from hepde.modules.registry import KIND_BASES, resolve
from hepde.modules.tables import parse_table, read_bytes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("module", help="work with one module outside a channel")
    msub = p.add_subparsers(dest="module_command", metavar="ACTION")
    r = msub.add_parser("run", help="run one module on files and write its products")
    r.add_argument("module", help="module path (the original's paths work through the alias table)")
    r.add_argument("--name", help="class name, if the module holds several")
    r.add_argument("--params", help="JSON file with the module's parameters (default: none)")
    r.add_argument("--product", action="append", default=[], metavar="NAME=FILE", help="an input product")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--channel", default="module-run", help="channel name the module sees")
    r.set_defaults(func=run)


def load_product(spec: str) -> tuple[str, Any]:
    name, sep, location = spec.partition("=")
    if not sep or not name or not location:
        raise DEError(f"--product {spec!r}: expected NAME=FILE")
    lower = location.lower()
    if lower.endswith((".csv", ".parquet")):
        return name, parse_table(read_bytes(location), Path(lower).suffix, location)
    if lower.endswith(".json"):
        try:
            value = json.loads(read_bytes(location))
        except ValueError as exc:
            raise DEError(f"--product {name}: '{location}' is not valid JSON: {exc}") from exc
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            return name, pd.DataFrame.from_records(value)
        return name, value
    raise DEError(f"--product {name}: '{location}' has an unsupported extension; use .csv, .parquet or .json")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, pd.Series):
        return json.loads(value.to_json(orient="records"))
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _resolve_any(path: str, name: str | None) -> type[Module]:
    errors = []
    for kind in KIND_BASES:
        try:
            return resolve(path, kind, name)
        except ModuleResolutionError as exc:
            errors.append(str(exc))
            if "cannot import" in str(exc) or "not re-implemented" in str(exc):
                raise
    raise ModuleResolutionError(f"'{path}' holds no decision-engine module: " + "; ".join(errors))


def run(args: argparse.Namespace) -> int:
    if getattr(args, "module_command", None) != "run":
        raise DEError("usage: de module run MODULE --params PARAMS.json [--product NAME=FILE ...] --out DIR")
    params: dict[str, Any] = {}
    if args.params:
        try:
            params = json.loads(Path(args.params).read_text())
        except (OSError, ValueError) as exc:
            raise DEError(f"--params {args.params}: {exc}") from exc
        if not isinstance(params, dict):
            raise DEError(f"--params {args.params}: expected a JSON object of parameters")
    inputs = dict(load_product(spec) for spec in args.product)
    cls = _resolve_any(args.module, args.name)
    try:
        module = cls(params, channel_name=args.channel)
    except ValidationError as exc:
        where = args.params or "(no --params)"
        lines = [
            f"{where}: {'.'.join(str(x) for x in e['loc']) or '(parameters)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise DEError(f"parameters of {cls.__name__} are invalid:\n" + "\n".join(lines)) from exc
    missing = [p for p in module.declared_consumes() if p not in inputs]
    if missing:
        raise DEError(f"{cls.__name__} consumes {missing}: give them with --product NAME=FILE")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    context = FakeContext(channel=args.channel, execution_id="module-run")
    module.bind(context)
    outputs: dict[str, Any]
    if isinstance(module, Source):
        outputs = module.acquire()
        _check(module, outputs)
    elif isinstance(module, Transform):
        outputs = module.transform(inputs)
        _check(module, outputs)
    elif isinstance(module, LogicEngineBase):
        actions, facts = module.evaluate(inputs)
        outputs = {"actions": actions, "de_logicengine_facts": facts}
    elif isinstance(module, Publisher):
        result = module.publish(inputs) or PublishResult(summary="published")
        outputs = {"publish_result": result.model_dump(mode="json")}
    else:  # pragma: no cover - resolve only returns the four kinds
        raise DEError(f"{cls.__name__} is not a runnable module")
    sent = [
        {"queue": q.name, "body": json.loads(body), "attributes": attrs}
        for q in context.services.queues.values()
        for body, attrs in zip(q.bodies, q.attributes, strict=True)
    ]
    if sent:
        outputs["queued_actions"] = sent
    written = [
        {"channel": ch, "kind": kind, "ident": ident, "record": rec}
        for ch, recs in context.services.channels.items()
        for (kind, ident), rec in sorted(recs.records.items())
    ]
    if written:
        outputs["records"] = written
    for name, value in outputs.items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(to_jsonable(value), indent=1, default=str) + "\n")
        print(f"wrote {path}")
    return 0


def _check(module: Module, outputs: Any) -> None:
    if not isinstance(outputs, dict):
        raise DEError(
            f"{type(module).__name__} returned {type(outputs).__name__}, expected a dict of products"
        )
    problems = check_declared_types(module.declared_produces(), outputs)
    if problems:
        raise DEError("".join(problems))
