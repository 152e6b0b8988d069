"""A small, deterministic YAML writer for CloudFormation templates (dicts, lists, str, int, float, bool).

Intrinsic functions are written in their long form (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``) so the
output needs no tags.  Multi-line strings become literal blocks; every other string that plain YAML
could misread (numbers, booleans, ``:``/``#``/``{``..., leading/trailing space) is double-quoted with
JSON escaping, which YAML accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_/$.][A-Za-z0-9_ ./:${}()\-*,=@+]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if (
        _PLAIN.match(text)
        and text.lower() not in _RESERVED
        and ": " not in text
        and " #" not in text
        and not text.endswith((" ", ":"))
        and "{" not in text.replace("${", "")
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(items: list[Any]) -> str | None:
    """``[a, b]`` for a short list of scalars (items with flow indicators are quoted)."""
    if not all(
        isinstance(i, str | int | float | bool) or (isinstance(i, dict) and _flow_map(i)) for i in items
    ):
        return None
    texts = []
    for i in items:
        if isinstance(i, dict):
            texts.append(_flow_map(i) or "")
            continue
        text = _scalar(i)
        if isinstance(i, str) and any(c in text for c in ",[]{}") and not text.startswith('"'):
            text = json.dumps(i, ensure_ascii=False)
        texts.append(text)
    return "[" + ", ".join(texts) + "]"


def _key(key: str) -> str:
    return _scalar(key)


#: single-key mappings written in flow style: ``{Ref: Name}``, ``{Fn::GetAtt: Res.Arn}``, ``{Fn::Sub: "..."}``
_FLOW_KEYS = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::ImportValue")


def _flow_map(value: dict[str, Any]) -> str | None:
    if len(value) != 1:
        return None
    ((k, v),) = value.items()
    if k not in _FLOW_KEYS or not isinstance(v, str) or "\n" in v:
        return None
    text = _scalar(v)
    if any(c in text for c in ",[]{}") and not text.startswith('"'):
        text = json.dumps(v, ensure_ascii=False)
    return "{" + f"{k}: {text}" + "}"


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            out[-1] += " {}"
            return
        flow = _flow_map(value)
        if flow is not None:
            out[-1] += " " + flow
            return
        for k, v in value.items():
            out.append(f"{pad}{_key(str(k))}:")
            _child(v, indent, out)
    elif isinstance(value, list):
        if not value:
            out[-1] += " []"
            return
        flow = _flow(value)
        if flow is not None and len(out[-1]) + len(flow) < 100:
            out[-1] += " " + flow
            return
        for item in value:
            out.append(f"{pad}-")
            if isinstance(item, dict) and item:
                first = True
                for k, v in item.items():
                    if first:
                        out[-1] = f"{pad}- {_key(str(k))}:"
                        first = False
                    else:
                        out.append(f"{pad}  {_key(str(k))}:")
                    _child(v, indent + 1, out)
            else:
                _child(item, indent, out)
    else:
        out[-1] += " " + _scalar(value)


def _child(value: Any, indent: int, out: list[str]) -> None:
    if isinstance(value, str) and "\n" in value:
        pad = "  " * (indent + 1)
        chomp = "|-" if not value.endswith("\n") else "|"
        out[-1] += f" {chomp}"
        for line in value.rstrip("\n").split("\n"):
            out.append(f"{pad}{line}" if line else "")
    elif isinstance(value, dict | list) and value:
        _emit(value, indent + 1, out)
    else:
        _emit(value, indent + 1, out)


def dump(document: dict[str, Any], header: str = "") -> str:
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    for k, v in document.items():
        out.append(f"{_key(str(k))}:")
        _child(v, 0, out)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
