"""The original's ``de_frontend_config`` file, read safely and turned into a frontend description.

GlideinWMS's ``configure_gwms_frontend.py`` wrote this file with ``FrontendConfiguration.save()``:
``pprint`` of a Python dict ``{"frontend": {frontend_name, workdir, web_url, monitoring_web_url},
"group": {<group>: {...}}}`` whose values are Python literals (strings, numbers, lists, *tuples* for
``factory_collectors``, dicts). The original ``eval()``-ed it on every cycle. Here it is parsed with
:func:`ast.literal_eval` (literals only: no names, calls or attribute access can run) after a size and
nesting bound, then mapped onto the same :class:`~hepde.modules.glideinwms.frontend.FrontendDescription`
that ``frontend: import 'glideinwms.libsonnet'`` gives, so both give exactly the same requests.

Mapping (group key of the saved file → description):

=====================================  ====================================================
``min_running`` / ``max_running``      ``config.running_glideins_per_entry.min`` / ``.max``
``fraction_running``                   ``config.running_glideins_per_entry.relative_to_queue``
``max_idle`` / ``reserve_idle``        ``config.idle_glideins_per_entry.max`` / ``.reserve``
``max_vms_idle`` / ``curb_vms_idle``   ``config.idle_vms_per_entry.max`` / ``.curb``
``total_{max,curb}_glideins``          ``config.running_glideins_total``
``total_{max,curb}_vms_idle``          ``config.idle_vms_total``
``fe_total_*`` / ``global_total_*``    the frontend's ``config.*`` (taken from the first group:
                                       GlideinWMS copies the frontend's values into every group)
``factory_collectors``                 ``match.factory.collectors`` (node, factory_identity, my_identity)
``security_name``                      ``security.security_name``
``proxies`` + ``Proxy*`` dicts         ``security.credentials`` (type, security class, trust domain,
                                       key/pilot files, VM id/type, remote user, project id per file;
                                       the original's defaults: type ``Unknown``, security class = the
                                       credential's index, trust domain ``None``)
``attrs_descript``                     ``attrs`` (all are parameters, as GlideinWMS wrote only those)
``sign_descript``                      ``sign_descript``
frontend ``web_url``                   ``stage.web_base_url`` (group URLs are ``<web_url>/group_<g>``)
=====================================  ====================================================

Keys the request computation does not use (``workdir``, ``condor_config``, ``condor_mapfile``,
``classad_proxy``, ``schedds``, ``max_matchmakers``, ``proxy_selection_plugin``, ``ProxyCreationScripts``,
``ProxyUpdateFrequency``, ``ProxyVM*Fname``) are read and ignored, as the original's request transform did.
"""

from __future__ import annotations

import ast
from typing import Any

from hepde.errors import DEError

#: where configure_gwms_frontend.py wrote the file (the original transform's default)
DEFAULT_LOCATION = "/var/lib/gwms-frontend/vofrontend/de_frontend_config"
#: a production file is a few hundred KiB; anything much larger is not one
MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32


class SavedFrontendError(DEError):
    """The de_frontend_config file is not the original's format."""


def looks_saved(value: Any) -> bool:
    """A dict in the saved format (``frontend`` + ``group``) rather than a description (``groups``)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("frontend"), dict)
        and isinstance(value.get("group"), dict)
        and "groups" not in value
    )


def _depth(text: str) -> int:
    depth = deepest = 0
    quote = ""
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def parse_literal(text: str, where: str) -> Any:
    """The Python-literal dict of the file, or a clear error; never evaluates code."""
    if len(text) > MAX_BYTES:
        raise SavedFrontendError(
            f"'{where}': {len(text)} bytes is larger than a de_frontend_config ({MAX_BYTES})"
        )
    if _depth(text) > MAX_DEPTH:
        raise SavedFrontendError(
            f"'{where}': nested deeper than {MAX_DEPTH} levels: not a de_frontend_config"
        )
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise SavedFrontendError(
            f"'{where}' is neither JSON nor the Python-literal dict the original's "
            f"FrontendConfiguration.save() wrote: {type(exc).__name__}: {exc}"
        ) from None
    if not looks_saved(value):
        raise SavedFrontendError(
            f"'{where}': expected the original's dict with keys 'frontend' and 'group', got "
            f"{type(value).__name__}{' with keys ' + ', '.join(map(str, list(value)[:5])) if isinstance(value, dict) else ''}"
        )
    return value


def _int(group: str, key: str, raw: dict[str, Any]) -> int:
    try:
        return int(raw[key])
    except KeyError:
        raise SavedFrontendError(f"group.{group}.{key}: missing (every saved group has it)") from None
    except (TypeError, ValueError):
        raise SavedFrontendError(f"group.{group}.{key}: expected an integer, got {raw[key]!r}") from None


def _float(group: str, key: str, raw: dict[str, Any]) -> float:
    try:
        return float(raw[key])
    except KeyError:
        raise SavedFrontendError(f"group.{group}.{key}: missing (every saved group has it)") from None
    except (TypeError, ValueError):
        raise SavedFrontendError(f"group.{group}.{key}: expected a number, got {raw[key]!r}") from None


def _credentials(group: str, raw: dict[str, Any]) -> list[dict[str, Any]]:
    proxies = raw.get("proxies") or []
    if not isinstance(proxies, list | tuple) or not all(isinstance(p, str) for p in proxies):
        raise SavedFrontendError(f"group.{group}.proxies: expected a list of credential file names")

    def table(key: str) -> dict[str, Any]:
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            raise SavedFrontendError(f"group.{group}.{key}: expected a dict keyed by credential file")
        return value

    types, classes, domains = table("ProxyTypes"), table("ProxySecurityClasses"), table("ProxyTrustDomains")
    keys, pilots = table("ProxyKeyFiles"), table("ProxyPilotFiles")
    vm_ids, vm_types = table("ProxyVMIds"), table("ProxyVMTypes")
    users, projects = table("ProxyRemoteUsernames"), table("ProxyProjectIds")
    out = []
    for index, fname in enumerate(proxies):
        out.append(
            {
                "absfname": fname,
                "type": str(types.get(fname, "Unknown")),
                "security_class": str(classes.get(fname, index)),
                "trust_domain": str(domains.get(fname, "None")),
                "keyabsfname": keys.get(fname),
                "pilotabsfname": pilots.get(fname),
                "vm_id": vm_ids.get(fname),
                "vm_type": vm_types.get(fname),
                "remote_username": users.get(fname),
                "project_id": projects.get(fname),
            }
        )
    return out


def _collectors(group: str, raw: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for i, c in enumerate(raw.get("factory_collectors") or []):
        if not (isinstance(c, list | tuple) and len(c) == 3):
            raise SavedFrontendError(
                f"group.{group}.factory_collectors[{i}]: expected (node, factory_identity, my_identity), got {c!r}"
            )
        node, factory_identity, my_identity = c
        out.append(
            {
                "node": str(node),
                "factory_identity": str(factory_identity or ""),
                "my_identity": str(my_identity or ""),
            }
        )
    return out


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"value": str(value), "type": "string"}
    if isinstance(value, int):
        return {"value": value, "type": "int"}
    return {"value": value, "type": "string"}


def description_from_saved(saved: dict[str, Any]) -> dict[str, Any]:
    """The frontend description (the ``glideinwms.libsonnet`` shape) equivalent to a saved file."""
    fe = saved["frontend"]
    name = fe.get("frontend_name")
    if not isinstance(name, str) or not name:
        raise SavedFrontendError("frontend.frontend_name: missing or not a string")
    groups_raw = saved["group"]
    if not groups_raw:
        raise SavedFrontendError("group: no frontend group is configured")
    groups: dict[str, Any] = {}
    for g, raw in groups_raw.items():
        if not isinstance(raw, dict):
            raise SavedFrontendError(f"group.{g}: expected a dict")
        sign = raw.get("sign_descript") or {}
        attrs = raw.get("attrs_descript") or {}
        if not isinstance(sign, dict) or not isinstance(attrs, dict):
            raise SavedFrontendError(f"group.{g}: sign_descript and attrs_descript must be dicts")
        groups[str(g)] = {
            "enabled": True,
            "config": {
                "running_glideins_per_entry": {
                    "min": _int(g, "min_running", raw),
                    "max": _int(g, "max_running", raw),
                    "relative_to_queue": _float(g, "fraction_running", raw),
                },
                "idle_glideins_per_entry": {
                    "max": _int(g, "max_idle", raw),
                    "reserve": _int(g, "reserve_idle", raw),
                },
                "idle_vms_per_entry": {
                    "max": _int(g, "max_vms_idle", raw),
                    "curb": _int(g, "curb_vms_idle", raw),
                },
                "running_glideins_total": {
                    "max": _int(g, "total_max_glideins", raw),
                    "curb": _int(g, "total_curb_glideins", raw),
                },
                "idle_vms_total": {
                    "max": _int(g, "total_max_vms_idle", raw),
                    "curb": _int(g, "total_curb_vms_idle", raw),
                },
            },
            "match": {"factory": {"collectors": _collectors(g, raw)}},
            "security": {
                "security_name": str(raw.get("security_name") or ""),
                "credentials": _credentials(g, raw),
            },
            "attrs": {str(k): _attr(v) for k, v in attrs.items()},
            "sign_descript": {k: str(v) for k, v in sign.items()},
        }
    first_key = next(iter(groups_raw))
    first = groups_raw[first_key]
    frontend_limits = {
        "running_glideins_total": {
            "max": _int(first_key, "fe_total_max_glideins", first),
            "curb": _int(first_key, "fe_total_curb_glideins", first),
        },
        "idle_vms_total": {
            "max": _int(first_key, "fe_total_max_vms_idle", first),
            "curb": _int(first_key, "fe_total_curb_vms_idle", first),
        },
        "running_glideins_total_global": {
            "max": _int(first_key, "global_total_max_glideins", first),
            "curb": _int(first_key, "global_total_curb_glideins", first),
        },
        "idle_vms_total_global": {
            "max": _int(first_key, "global_total_max_vms_idle", first),
            "curb": _int(first_key, "global_total_curb_vms_idle", first),
        },
    }
    return {
        "frontend_name": name,
        "config": frontend_limits,
        "stage": {"web_base_url": str(fe.get("web_url") or "")},
        "monitoring_web_url": str(fe.get("monitoring_web_url") or ""),
        "groups": groups,
    }
