"""Channel configuration of the HTC modules, and the runtime's hold on implausible input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hepde.config.validate import validate_paths
from hepde.datablock.api import Header, Metadata, channel_namespace
from hepde.errors import HoldCycleError
from hepde.modules.glideinwms.expressions import QueryExpressionError, check_query, query_mask
from hepde.modules.glideinwms.frontend import Frontend, FrontendConfigError
from hepde.modules.glideinwms.transforms import GlideinRequestManifests

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "tests" / "fixtures" / "contrib-config-template-EL9"


def test_fix_two_producers_of_factory_entries_in_production_template():
    # Given the production template with this project's real modules behind the original paths
    _, problems = validate_paths([TEMPLATE / "resource_request.jsonnet"])
    found = {p.key: p.message for p in problems}
    # Then the EmptySource stub and FactoryEntriesSource are reported as two producers of Factory_Entries
    assert (
        "produces 'Factory_Entries', which sources.FactoryEntriesSource also produces"
        in found["sources.Factory_Entries"]
    )
    # and the HTC pilot channel, which has one producer, validates
    configs, problems = validate_paths([ROOT / "channels" / "htc_pilot.jsonnet"])
    assert problems == [] and [c.name for c in configs] == ["htc_pilot"]


def test_the_production_frontend_description_is_read_as_typed_limits():
    fe = Frontend.from_value(str(ROOT / "channels" / "htc_glideinwms.libsonnet"))
    g = fe.group("cms_main")
    assert (g.max_running, g.fraction_running, g.max_idle, g.reserve_idle, g.curb_vms_idle) == (
        10000,
        1.15,
        100,
        5,
        5,
    )
    assert (g.fe_total_max_glideins, g.global_total_max_vms_idle, g.client_name) == (
        200000,
        20000,
        "hepcloud-de.cms_main",
    )
    with pytest.raises(FrontendConfigError, match="not configured"):
        fe.group("nope")


def test_a_frontend_description_error_names_the_key():
    with pytest.raises(ValueError, match="groups"):
        GlideinRequestManifests({"frontend": {"frontend_name": "x"}})
    with pytest.raises(ValueError, match="frontend description is required"):
        GlideinRequestManifests({})


@pytest.mark.parametrize(
    "query",
    [
        "ClusterId > 0",
        "GLIDEIN_Supported_VOs.str.contains('CMS') and GLIDEIN_CPUS >= 8",
        "GLIDEIN_Site == '@TEMPLATE_SITE@'",
        "`odd name` in ['a', 'b']",
        "not (x != 1) or (y < 2) & (z == 3)",
    ],
)
def test_bucket_queries_select_the_rows_pandas_query_selects(query):
    frame = pd.DataFrame(
        {
            "ClusterId": [0, 1, 2],
            "GLIDEIN_Supported_VOs": ["CMS", "OSG", "CMS,OSG"],
            "GLIDEIN_CPUS": [8, 8, 1],
            "GLIDEIN_Site": ["@TEMPLATE_SITE@", "b", "c"],
            "odd name": ["a", "c", "b"],
            "x": [1, 2, 1],
            "y": [1, 3, 5],
            "z": [3, 3, 4],
        }
    )
    expected = frame.query(query).index.tolist()
    assert frame.index[query_mask(frame, query)].tolist() == expected


@pytest.mark.parametrize(
    "query",
    [
        "__import__('os').system('id')",
        "x.__class__",
        "x > @y",
        "x.to_csv('/tmp/x')",
        "[c for c in x]",
        "lambda: 1",
    ],
)
def test_unsafe_queries_are_rejected(query):
    with pytest.raises(QueryExpressionError):
        check_query(query)


def test_a_transform_raising_hold_cycle_error_holds_the_cycle_with_its_reason(tmp_path, monkeypatch):
    from hepde.config.model import ModuleEntry
    from hepde.modules.base import Transform
    from hepde.runtime import stages

    class Holding(Transform):
        _produces = {"x": pd.DataFrame}

        def transform(self, data_block):
            seen = self.context.previous_product("x")
            raise HoldCycleError(f"implausible; previous {seen[0]['v'] if seen else None}")

    monkeypatch.setattr(stages, "resolve", lambda module, kind, name=None: Holding)

    class Store:
        def __init__(self):
            self.records, self.products = {}, {}

        def get_record(self, ns, kind, ident):
            return self.records.get((ns, kind, ident))

        def put_record(self, ns, kind, ident, body):
            self.records[(ns, kind, ident)] = body

        def list_generation(self, ns, gen):
            from hepde.datablock.api import GenerationInfo, ProductRef

            return [
                GenerationInfo(
                    ProductRef(ns, gen, n), Header.new("t", 60), Metadata(gen, generation_time=5.0), 0, False
                )
                for (n_ns, g, n) in self.products
                if n_ns == ns and g == gen
            ]

        def generations(self, ns, since=None):
            return sorted({g for (n_ns, g, _) in self.products if n_ns == ns})

        def get_product(self, ref):
            return self.products[(ref.namespace, ref.generation, ref.name)]

    store = Store()
    ns = channel_namespace("c")
    store.products[(ns, 1, "x")] = {"v": 41}
    store.put_record(ns, stages.CYCLE, stages.gen_id(2), {"generation": 2, "snapshot": {}})
    entry = ModuleEntry.from_json({"key": "t", "kind": "transform", "module": "m", "parameters": {}})
    with pytest.raises(HoldCycleError, match="transform 't' held the cycle: implausible; previous 41"):
        stages.run_transform(store, stages.StageRequest(channel="c", generation=2, entry=entry.to_json()))
    record = store.get_record(ns, stages.CYCLE, stages.gen_id(2))
    assert record["hold"] == {"transform": "t", "reason": "implausible; previous 41"}
    assert stages.previous_product(store, "c", 2, "x") == ({"v": 41}, 5.0)
    assert stages.previous_product(store, "c", 1, "x") is None


def test_the_generated_state_machine_routes_hold_cycle_error_to_a_held_finish():
    from hepde.runtime.channel import prepare

    (ch,) = prepare([ROOT / "channels" / "htc_pilot.jsonnet"])
    states = ch.definition["States"]
    held = states["HoldCycleByTransform"]
    assert held["Parameters"]["Payload"]["status"] == "HELD" and held["Next"] == "CycleHeld"
    catches = [
        c
        for s in states.values()
        if s.get("Type") in ("Task", "Parallel")
        for c in s.get("Catch", [])
        if c["ErrorEquals"] == ["HoldCycleError"]
    ]
    assert catches and all(c["Next"] == "HoldCycleByTransform" for c in catches)
