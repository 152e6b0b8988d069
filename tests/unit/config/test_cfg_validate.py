"""Validating channels: resolution, schemas, declarations, product graph, logic engine, shared sources."""

from __future__ import annotations

from typing import Any

import pytest
from cfg_helpers import CONTRIB_TEMPLATE, FRAMEWORK_CONFIGS, channel, entry

from hepde.config.loader import load_channel
from hepde.config.validate import instantiate, validate_channel, validate_paths
from hepde.modules import registry
from hepde.modules.base import ModuleParameters, Publisher, Source, Transform
from hepde.modules.generic.empty_source import EmptySource
from hepde.modules.testing.framework import DynamicSource, IntSource

LOGIC_ENGINE = "decisionengine.framework.logicengine.LogicEngine"


def by_key(problems) -> dict[str, str]:
    return {p.key: p.message for p in problems}


def logic_engine(facts: dict[str, str], rules: dict[str, Any]) -> dict[str, Any]:
    return {"module": LOGIC_ENGINE, "parameters": {"facts": facts, "rules": rules}}


# -- clean channels ---------------------------------------------------------------------------------
def test_the_original_test_channel_is_valid_and_gives_its_graph():
    """Given test_channel.jsonnet (no logic engine), when validated, then the pass-through is implied and all is fine."""
    config = load_channel(FRAMEWORK_CONFIGS / "test_channel.jsonnet")

    graph, problems = validate_channel(config)

    assert problems == []
    assert graph is not None
    assert graph.producers["foo"] == "source1"
    assert graph.producers["bar"] == "transform1"
    assert graph.transform_order == ["transform1"]
    assert graph.publisher_order == ["publisher1"]


def test_the_original_erring_publisher_channel_is_valid():
    """Given erring_publisher.jsonnet (a logic engine selecting its publisher), when validated, then no problem."""
    configs, problems = validate_paths([FRAMEWORK_CONFIGS / "erring_publisher.jsonnet"])

    assert problems == []
    assert configs[0].logicengine is not None and configs[0].logicengine.key == "le"


def test_instantiate_builds_every_module_with_its_parameters(write_channel):
    """Given a channel of parameterised test modules, when instantiated, then each module has typed parameters."""
    path = write_channel(
        "ok.json",
        channel(
            sources={
                "s": entry("IntSource", {"int_value": 4}),
                "d": entry("DynamicSource", {"data_product_name": "n"}),
            },
        ),
    )

    instances, problems = instantiate(load_channel(path))

    assert problems == []
    assert isinstance(instances["s"], IntSource) and instances["s"].params.int_value == 4
    assert isinstance(instances["d"], DynamicSource) and instances["d"].declared_produces() == {"n": int}


# -- the original's bad channels --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "test_bad_publisher.jsonnet",
            {"publishers.publisher1": "module is missing '@consumes' declarations"},
        ),
        (
            "test_bad_source.jsonnet",
            {"sources.source1": "module is missing '@produces' declarations"},
        ),
        (
            "test_missing_product.jsonnet",
            {"transforms.a_uses_b": "The following products are required but not produced: ['B']"},
        ),
        (
            "test_product_circularity.jsonnet",
            {
                "transforms.a_uses_b": "A produces/consumes circularity exists in the configuration: "
                "a_uses_b -> b_uses_a -> a_uses_b"
            },
        ),
    ],
)
def test_each_original_bad_channel_gives_its_expected_problem(file, expected):
    """Given one of the original's test-bad-channel files, when validated, then exactly its mistake is reported."""
    path = FRAMEWORK_CONFIGS / "test-bad-channel" / file

    _, problems = validate_paths([path])

    found = by_key(problems)
    assert set(found) == set(expected)
    for key, start in expected.items():
        assert found[key].startswith(start)
    assert all(p.file == str(path) for p in problems)


def test_a_transform_missing_both_declarations_gives_two_problems():
    """Given test_bad_transform.jsonnet, when validated, then the missing produces and consumes are both reported."""
    _, problems = validate_paths([FRAMEWORK_CONFIGS / "test-bad-channel" / "test_bad_transform.jsonnet"])

    assert [(p.key, p.message.split(" (")[0]) for p in problems] == [
        ("transforms.transform1", "module is missing '@produces' declarations"),
        ("transforms.transform1", "module is missing '@consumes' declarations"),
    ]


def test_the_cycle_message_names_the_products_along_the_cycle():
    """Given the circular channel, when validated, then the message shows which product each edge carries."""
    _, problems = validate_paths(
        [FRAMEWORK_CONFIGS / "test-bad-channel" / "test_product_circularity.jsonnet"]
    )

    [problem] = problems
    assert problem.message.endswith(
        "(a_uses_b consumes 'B' from b_uses_a; b_uses_a consumes 'A' from a_uses_b)"
    )


def test_the_whole_bad_channel_directory_reports_all_five_channels():
    """Given the bad-channel directory, when validated as a whole, then the five channels' six problems come back."""
    configs, problems = validate_paths([FRAMEWORK_CONFIGS / "test-bad-channel"])

    assert len(configs) == 5
    assert len(problems) == 6
    assert len({p.file for p in problems}) == 5


def test_a_longer_cycle_is_shown_in_full(write_channel):
    """Given three transforms feeding each other in a ring, when validated, then the cycle is printed a -> b -> c -> a."""

    def ring(name: str, consumes: str, produces: str) -> dict[str, Any]:
        return entry("DynamicTransform", {"consumes": [consumes], "data_product_name": produces})

    path = write_channel(
        "ring.json",
        channel(
            transforms={"a": ring("a", "pc", "pa"), "b": ring("b", "pa", "pb"), "c": ring("c", "pb", "pc")},
            publishers={"p": entry("DynamicPublisher", {"consumes": ["pc"], "expects": 0})},
        ),
    )

    _, problems = validate_paths([path])

    assert by_key(problems) == {
        "transforms.a": "A produces/consumes circularity exists in the configuration: a -> c -> b -> a "
        "(a consumes 'pc' from c; c consumes 'pb' from b; b consumes 'pa' from a)"
    }


def test_a_transform_consuming_its_own_product_is_a_cycle(write_channel):
    """Given a transform consuming the product it produces, when validated, then the cycle is `t -> t`."""
    path = write_channel(
        "self.json",
        channel(transforms={"t": entry("DynamicTransform", {"consumes": ["x"], "data_product_name": "x"})}),
    )

    _, problems = validate_paths([path])

    assert by_key(problems) == {
        "transforms.t": "A produces/consumes circularity exists in the configuration: t -> t (t consumes 'x' from itself)"
    }


# -- producers --------------------------------------------------------------------------------------
def test_two_producers_of_one_product_are_an_error(write_channel):
    """Given two DynamicSources producing 'x' (the original let the last one win), when validated, then it is reported."""
    path = write_channel(
        "dup.json",
        channel(
            sources={
                "first": entry("DynamicSource", {"data_product_name": "x"}),
                "second": entry("DynamicSource", {"data_product_name": "x", "value": 2}),
            },
            publishers={"p": entry("DynamicPublisher", {"consumes": ["x"], "expects": 1})},
        ),
    )

    graph, problems = validate_channel(load_channel(path))

    assert graph is None
    assert by_key(problems) == {
        "sources.second": "produces 'x', which sources.first also produces (a product must have exactly one producer)"
    }


def test_a_transform_producing_a_source_product_is_a_duplicate_producer(write_channel):
    """Given a transform re-producing a source's product, when validated, then the transform is the duplicate."""
    path = write_channel(
        "dup2.json",
        channel(
            sources={
                "s": entry("DynamicSource", {"data_product_name": "x"}),
                "t_in": entry("IntSource", {"int_value": 1}),
            },
            transforms={
                "t": entry("DynamicTransform", {"consumes": ["int_value"], "data_product_name": "x"})
            },
            publishers={"p": entry("DynamicPublisher", {"consumes": ["x"], "expects": 1})},
        ),
    )

    _, problems = validate_paths([path])

    assert list(by_key(problems)) == ["transforms.t"]


def test_a_module_may_not_produce_a_name_the_framework_writes(write_channel):
    """Given a source producing 'actions', when validated without a logic engine, then the name is reserved."""
    path = write_channel(
        "reserved.json", channel(sources={"s": entry("DynamicSource", {"data_product_name": "actions"})})
    )

    _, problems = validate_paths([path])

    assert by_key(problems) == {
        "sources.s": "produces 'actions', a name reserved for what the framework writes after the logic engine"
    }


class _StubParameters(ModuleParameters):
    model_config = {**ModuleParameters.model_config, "extra": "allow"}


def _stub(kind: type, produces: dict[str, Any] | None = None, consumes: dict[str, Any] | None = None) -> type:
    """A stand-in for a not-yet-implemented production module, declaring what the original declares."""
    attrs: dict[str, Any] = {
        "Parameters": _StubParameters,
        "_produces": produces or {},
        "_consumes": consumes or {},
    }
    return type(f"Stub{kind.__name__}", (kind,), attrs)


#: the products the production modules resource_request.jsonnet uses declare (hepcloud-de-modules 2.0.6)
_PRODUCTION_STUBS: dict[str, type] = {
    "decisionengine_modules.htcondor.sources.job_q": _stub(Source, {"job_manifests": Any}),
    "decisionengine_modules.htcondor.sources.slots": _stub(Source, {"startd_manifests": Any}),
    "decisionengine_modules.glideinwms.sources.factory_global": _stub(
        Source, {"factoryglobal_manifests": Any}
    ),
    "decisionengine_modules.glideinwms.sources.factory_entries": _stub(Source, {"Factory_Entries": Any}),
    "decisionengine_modules.glideinwms.transforms.job_clustering": _stub(
        Transform, {"job_clusters": Any}, {"job_manifests": Any}
    ),
    "decisionengine_modules.glideinwms.transforms.grid_figure_of_merit": _stub(
        Transform, {"Grid_Figure_Of_Merit": Any}, {"Factory_Entries": Any}
    ),
    "decisionengine_modules.glideinwms.transforms.glidein_requests": _stub(
        Transform,
        {"glideclientglobal_manifests": Any, "glideclient_manifests": Any},
        dict.fromkeys(
            [
                "factoryglobal_manifests",
                "job_manifests",
                "job_clusters",
                "Factory_Entries",
                "startd_manifests",
                "Grid_Figure_Of_Merit",
                "GCE_Figure_Of_Merit",
                "Nersc_Figure_Of_Merit",
            ],
            Any,
        ),
    ),
    "decisionengine_modules.glideinwms.publishers.fe_group_classads": _stub(
        Publisher, None, {"Factory_Entries": Any, "glideclient_manifests": Any}
    ),
    "decisionengine_modules.glideinwms.publishers.glideclientglobal": _stub(
        Publisher, None, {"glideclientglobal_manifests": Any}
    ),
    "decisionengine_modules.glideinwms.publishers.job_clustering_publisher": _stub(
        Publisher, None, {"job_clusters": Any}
    ),
}

CONTRIB_CHANNEL = CONTRIB_TEMPLATE / "resource_request.jsonnet"


def test_the_contrib_template_reports_its_unimplemented_modules_and_legacy_entry_keys():
    """Given the production resource_request.jsonnet, when validated, then each missing module and stray key is named."""
    configs, problems = validate_paths([CONTRIB_CHANNEL])

    found = by_key(problems)
    assert [c.name for c in configs] == ["resource_request"]
    unimplemented = {k for k, m in found.items() if "has not re-implemented yet" in m}
    # module families land one by one: a production module is "not re-implemented" until its alias exists
    aliased = registry.all_aliases()
    channel = configs[0]

    def module_of(key: str) -> str:
        section, name, _ = key.split(".")
        return getattr(channel, section)[name].module

    assert unimplemented == {
        k
        for k in {
            "sources.jobs_manifests.module",
            "sources.StartdManifestsSource.module",
            "sources.factoryglobal_manifests.module",
            "sources.FactoryEntriesSource.module",
            "transforms.t_job_categorization.module",
            "transforms.GridFigureOfMerit.module",
            "transforms.glideinwms_requests.module",
            "publishers.JobClusteringPublisher.module",
            "publishers.glideclientglobal_manifests.module",
            "publishers.glideclient_manifests.module",
        }
        if module_of(k) not in aliased
    }
    # SourceProxy leftovers at entry level are unknown keys; inside EmptySource parameters they are accepted
    assert found["sources.StartdManifestsSource.max_attempts"].startswith("unknown key")
    assert found["sources.StartdManifestsSource.retry_timeout"].startswith("unknown key")
    assert not [k for k in found if k.startswith(("sources.Factory_Entries.", "sources.FigureOfMerit"))]
    assert all(p.file == str(CONTRIB_CHANNEL) for p in problems)


def test_the_contrib_template_with_its_modules_shows_the_two_producers_of_factory_entries(monkeypatch):
    """Given the production template with stand-ins declaring the real products, when validated,
    then the EmptySource 'Factory_Entries' and FactoryEntriesSource are reported as two producers."""
    real_resolve = registry.resolve

    def resolve(module_path: str, kind: str, class_name: str | None = None) -> type:
        return _PRODUCTION_STUBS.get(module_path) or real_resolve(module_path, kind, class_name)

    monkeypatch.setattr(registry, "resolve", resolve)

    _, problems = validate_paths([CONTRIB_CHANNEL])

    found = by_key(problems)
    # Jsonnet sorts object keys, so FactoryEntriesSource comes first and the EmptySource is the duplicate
    assert found["sources.Factory_Entries"] == (
        "produces 'Factory_Entries', which sources.FactoryEntriesSource also produces "
        "(a product must have exactly one producer)"
    )
    assert set(found) == {
        "sources.Factory_Entries",
        "sources.StartdManifestsSource.max_attempts",
        "sources.StartdManifestsSource.retry_timeout",
    }


def test_empty_source_accepts_the_legacy_retry_parameters():
    """Given EmptySource with max_attempts/retry_interval/retry_timeout, when built, then it produces its empty frame."""
    source = EmptySource({"data_product_name": "Factory_Entries", "max_attempts": 100, "retry_timeout": 20})

    assert list(source.declared_produces()) == ["Factory_Entries"]
    assert source.acquire()["Factory_Entries"].empty


# -- parameters -------------------------------------------------------------------------------------
def test_parameter_schema_failures_are_one_problem_per_field(write_channel):
    """Given a wrong type, a missing parameter and an extra one, when validated, then each field has its problem."""
    path = write_channel(
        "schema.json",
        channel(
            sources={
                "i": entry("IntSource", {"int_value": "three"}),
                "d": entry("DynamicSource", {"data_product_nam": "x"}),
                "nop": entry("SourceNOP", {"verbose": True}),
            }
        ),
    )

    instances, problems = instantiate(load_channel(path))

    assert instances == {}
    found = by_key(problems)
    assert found == {
        "sources.i.parameters.int_value": "Input should be a valid integer, unable to parse string as an integer, got 'three'",
        "sources.d.parameters.data_product_name": "missing required parameter (expected str)",
        "sources.d.parameters.data_product_nam": "Extra inputs are not permitted (parameters of DynamicSource: "
        "data_product_name, value)",
        "sources.nop.parameters.verbose": "Extra inputs are not permitted (SourceNOP takes no parameters)",
    }


def test_a_module_that_does_not_resolve_is_reported_on_its_module_key(write_channel):
    """Given a misspelt module path and a wrong class name, when validated, then both land on '.module'."""
    path = write_channel(
        "resolve.json",
        channel(
            sources={"s": {"module": "no.such.module", "parameters": {}}},
            publishers={"p": {"module": "hepde.modules.testing.framework", "name": "Nope", "parameters": {}}},
        ),
    )

    _, problems = validate_paths([path])

    found = by_key(problems)
    assert set(found) == {"sources.s.module", "publishers.p.module"}
    assert "cannot import module 'no.such.module'" in found["sources.s.module"]


def test_a_consumer_of_a_product_from_an_unloadable_producer_gets_a_hint(write_channel):
    """Given a transform consuming what an unresolvable source would produce, when validated, then the hint says so."""
    path = write_channel(
        "hint.json",
        channel(
            sources={"s": {"module": "no.such.module", "parameters": {}}},
            transforms={"t": entry("TransformNOP")},
            publishers={"p": entry("PublisherNOP")},
        ),
    )

    _, problems = validate_paths([path])

    assert by_key(problems)["transforms.t"] == (
        "The following products are required but not produced: ['foo']; "
        "note that sources.s could not be loaded and may produce them"
    )


# -- logic engine -----------------------------------------------------------------------------------
def test_an_action_naming_no_configured_publisher_is_reported_on_its_rule(write_channel):
    """Given a rule whose actions name 'publisher2' (not configured), when validated, then that rule's actions are named."""
    path = write_channel(
        "actions.json",
        channel(
            sources={"s": entry("SourceNOP")},
            transforms={"t": entry("TransformNOP")},
            publishers={"publisher1": entry("PublisherNOP")},
            logicengines={
                "le": logic_engine(
                    {"pass_all": "True"},
                    {
                        "r1": {"expression": "pass_all", "actions": ["publisher1"]},
                        "r2": {"expression": "pass_all", "actions": ["publisher2"]},
                    },
                )
            },
        ),
    )

    _, problems = validate_paths([path])

    assert by_key(problems) == {
        "logicengines.le.parameters.rules.r2.actions": "action 'publisher2' names no configured publisher "
        "(publishers: publisher1)"
    }


def test_logic_engine_parameter_errors_are_keyed_under_its_parameters(write_channel):
    """Given a fact that does not parse, when validated, then the problem sits under logicengines.<key>.parameters."""
    path = write_channel(
        "le_err.json",
        channel(
            publishers={"p": entry("PublisherNOP")},
            sources={"s": entry("SourceNOP")},
            transforms={"t": entry("TransformNOP")},
            logicengines={
                "le": logic_engine({"broken": "1 +"}, {"r": {"expression": "broken", "actions": ["p"]}})
            },
        ),
    )

    _, problems = validate_paths([path])

    assert [p.key for p in problems] == ["logicengines.le.parameters.facts.broken"]


def test_facts_reading_an_unproduced_product_are_reported(write_channel):
    """Given a fact reading 'nothing_makes_this', when validated, then the logic engine's missing product is named."""
    path = write_channel(
        "le_missing.json",
        channel(
            sources={"s": entry("IntSource", {"int_value": 1})},
            publishers={"p": entry("DynamicPublisher", {"consumes": ["int_value"], "expects": 1})},
            logicengines={
                "le": logic_engine(
                    {"f": "nothing_makes_this > 0"}, {"r": {"expression": "f", "actions": ["p"]}}
                )
            },
        ),
    )

    _, problems = validate_paths([path])

    assert by_key(problems) == {
        "logicengines.le": "The following products are required but not produced: ['nothing_makes_this'] (read by the facts)"
    }


def test_more_than_one_logic_engine_is_reported_by_validation(write_channel):
    """Given two logic engines, when validated, then the problem is reported and the rest is still checked."""
    le = logic_engine({}, {})
    path = write_channel(
        "two_les.json",
        channel(sources={"s": entry("ABTransform")}, logicengines={"le1": le, "le2": le}),
    )

    _, problems = validate_paths([path])

    found = by_key(problems)
    assert found["logicengines"] == "a channel has at most one logic engine, found 2: le1, le2"
    assert "is not a decision-engine 'Source'" in found["sources.s.module"]


def test_a_publisher_may_consume_the_logic_engine_facts_without_a_logic_engine(write_channel):
    """Given no logicengines section and a publisher reading de_logicengine_facts, when validated, then it is fine."""
    path = write_channel(
        "facts.json",
        channel(
            sources={"s": entry("IntSource", {"int_value": 1})},
            publishers={
                "p": {
                    "module": "hepde.modules.testing.framework",
                    "name": "WriteToDisk",
                    "parameters": {"consumes": ["int_value", "de_logicengine_facts"]},
                }
            },
        ),
    )

    graph, problems = validate_channel(load_channel(path))

    assert problems == []
    assert graph is not None and graph.publisher_order == ["p"]


# -- across channels --------------------------------------------------------------------------------
def test_a_source_key_configured_differently_in_two_channels_is_a_mismatch(write_channel):
    """Given IntSource 'shared' with int_value 3 in A and 4 in B, when validated together, then B names both files."""
    a = write_channel("A.json", channel(sources={"shared": entry("IntSource", {"int_value": 3})}))
    b = write_channel("B.json", channel(sources={"shared": entry("IntSource", {"int_value": 4})}))

    configs, problems = validate_paths([a, b])

    assert [c.name for c in configs] == ["A", "B"]
    [problem] = problems
    assert (problem.file, problem.key) == (str(b), "sources.shared")
    assert problem.message.startswith(
        f"Mismatched configurations for source with name shared: {a} (channel 'A') and {b} (channel 'B') "
        "differ in parameters.int_value"
    )


def test_the_same_source_configured_identically_in_two_channels_is_shared(write_channel):
    """Given the same source entry in two channels, when validated together, then there is no problem."""
    source = {"shared": entry("IntSource", {"int_value": 3}, schedule=60)}
    a = write_channel("A.json", channel(sources=source))
    b = write_channel("B.json", channel(sources=source))

    assert validate_paths([a, b])[1] == []


def test_the_original_conflicting_shared_sources_are_reported():
    """Given the original's test-shared-sources-conflicting channels, when validated, then the mismatch is found
    (and channelA's run-once 'schedule: 0', which this project does not support, is reported too)."""
    directory = FRAMEWORK_CONFIGS / "test-shared-sources-conflicting"

    _, problems = validate_paths([directory])

    assert [(p.file, p.key) for p in problems] == [
        (str(directory / "channelA.jsonnet"), "sources.source.schedule"),
        (str(directory / "channelB.jsonnet"), "sources.source"),
    ]
    assert problems[1].message.startswith("Mismatched configurations for source with name source")
    assert "differ in module" in problems[1].message


def test_two_files_defining_the_same_channel_name_are_reported(write_channel):
    """Given two files that both set channel_name 'same', when validated together, then the second is reported."""
    a = write_channel("a.json", channel(channel_name="same"))
    b = write_channel("b.json", channel(channel_name="same"))

    _, problems = validate_paths([a, b])

    assert [(p.file, p.key, p.message) for p in problems] == [
        (str(b), "channel_name", f"the channel name 'same' is also used by {a}")
    ]


# -- everything at once -----------------------------------------------------------------------------
def test_every_mistake_of_one_channel_is_reported_in_one_pass(write_channel):
    """Given a channel with an unknown key, a bad schedule, a schema error, a missing declaration, a missing
    product, a duplicate producer and a cycle, when validated, then every one of them is reported together."""
    path = write_channel(
        "many.json",
        channel(
            sources={
                "s1": entry("DynamicSource", {"data_product_name": "x"}, schedule=-1),
                "s2": entry("DynamicSource", {"data_product_name": "x"}),
                "s3": entry("IntSource", {"int_value": "NaN"}),
                "nodecl": entry("SourceWithMissingProduces"),
            },
            transforms={
                "a_uses_b": entry("ABTransform"),
                "b_uses_a": entry("BATransform"),
                "needs_y": entry("DynamicTransform", {"consumes": ["y"], "data_product_name": "z"}),
            },
            publishers={"p": entry("DynamicPublisher", {"consumes": ["z", "x"], "expects": 1}, retry=1)},
            extra_section={},
        ),
    )

    _, problems = validate_paths([path])

    assert set(by_key(problems)) == {
        "extra_section",
        "sources.s1.schedule",
        "publishers.p.retry",
        "sources.s3.parameters.int_value",
        "sources.nodecl",
        "sources.s2",
        "transforms.needs_y",
        "transforms.a_uses_b",
    }
    assert all(p.file == str(path) for p in problems)


def test_actions_naming_no_publisher_are_reported_even_when_the_engine_has_other_problems(tmp_path):
    import json

    from hepde.config.loader import load_channel
    from hepde.config.validate import validate_channel

    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "sources": {},
                "transforms": {},
                "publishers": {},
                "logicengines": {
                    "le": {
                        "module": "decisionengine.framework.logicengine.LogicEngine",
                        "parameters": {
                            "facts": {"f": "open('x')"},
                            "rules": {"r": {"expression": "f", "actions": ["ghost"]}},
                        },
                    }
                },
            }
        )
    )
    _, problems = validate_channel(load_channel(path))
    keys = [p.key for p in problems]
    assert "logicengines.le.parameters.facts.f" in keys
    assert "logicengines.le.parameters.rules.r.actions" in keys
