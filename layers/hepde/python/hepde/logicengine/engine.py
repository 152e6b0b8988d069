"""The logic engine: facts over products, rules over facts, actions naming publishers.

Same semantics as the original Decision Engine 2.0.6 (``logicengine/LogicEngine.py``,
``RuleEngine.py``, ``FactLookup.py``, ``Rule.py``):

* every top-level fact is an expression over the products of the data block (any mapping), coerced
  to ``bool``;
* the fact registry holds the top-level facts and, per rule in configuration order, the facts each
  rule produces; a name is looked up as the top-level fact if there is one, else the fact of the
  *first* rule (configuration order) that produces it;
* rules run in dependency order (``toposort_flatten``, alphabetical within a level), each over the
  facts known so far; a rule's produced facts take its boolean result, and existing names are never
  overwritten (the top-level fact, or the earlier-produced one, wins);
* ``actions`` has an entry for every rule, in evaluation order: the rule's ``actions`` if it was
  true, its ``false_actions`` if it was false, else ``[]``;
* the facts table (product ``de_logicengine_facts``) has columns ``rule_name, fact_name,
  fact_value`` and one row per (rule, produced fact).

Differences, on purpose:

* expressions go through :mod:`hepde.logicengine.evaluator` (no ``eval``); constructs it does not
  accept, syntax errors, a rule reading a name that is neither a fact nor produced by any rule,
  and circular rule dependencies are all reported together, at construction, as one
  :class:`~hepde.errors.ConfigError` (keys ``facts.<fact>``, ``rules.<rule>.expression``,
  ``rules``); the original raised the first ``SyntaxError``/``KeyError``/``CircularDependencyError``;
* parameters are a pydantic model: missing ``facts``/``rules`` or unknown keys raise
  ``pydantic.ValidationError`` (the original raised ``KeyError``; ``LogicEngine()`` is allowed
  here and fails the same way, where the original raised ``TypeError``);
* a fact's ``NameError`` keeps Python's ``name 'x' is not defined`` and adds the fact and the names
  that are available; other errors keep their type and message and get a note naming the fact or
  rule;
* returned action lists are copies, so a caller cannot change the configuration through them;
* :meth:`LogicEngine.passthrough` with no publishers returns an engine whose only rule selects
  nothing (the original's ``passthrough_configuration`` returned ``{}``, no logic engine at all).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from toposort import CircularDependencyError, toposort_flatten

from hepde.errors import ConfigError, Problem
from hepde.logicengine.evaluator import Expression, ExpressionError, parse_expression
from hepde.modules.base import LogicEngineBase, ModuleParameters

__all__ = [
    "FACTS_COLUMNS",
    "FACTS_PRODUCT",
    "build_facts_table",
    "Evaluation",
    "LogicEngine",
    "LogicEngineParameters",
    "Rule",
]

logger = logging.getLogger(__name__)

#: name of the product holding the facts rules produced
FACTS_PRODUCT: Final = "de_logicengine_facts"
#: columns of that product
FACTS_COLUMNS: Final = ("rule_name", "fact_name", "fact_value")

_TOP_LEVEL: Final = ""  # the registry's marker for a fact that no rule produces


class Rule(BaseModel):
    """One rule of the configuration: a boolean expression over fact names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expression: str
    #: publishers selected when the expression is true
    actions: list[str] = Field(default_factory=list)
    #: publishers selected when the expression is false
    false_actions: list[str] = Field(default_factory=list)
    #: new facts that take the expression's value
    facts: list[str] = Field(default_factory=list)


class LogicEngineParameters(ModuleParameters):
    """The logic engine's ``parameters``: ``facts`` (name -> expression) and ``rules``."""

    facts: dict[str, str]
    rules: dict[str, Rule]


@dataclass(frozen=True)
class _CompiledRule:
    name: str
    expression: Expression
    actions: tuple[str, ...]
    false_actions: tuple[str, ...]
    new_facts: tuple[str, ...]


@dataclass(frozen=True, eq=False)  # eq would compare DataFrames element-wise
class Evaluation:
    """Everything one evaluation found, for the decision record."""

    #: value of every top-level fact, in configuration order
    fact_values: dict[str, bool]
    #: value of every rule, in evaluation order
    rule_results: dict[str, bool]
    #: publishers each rule selected (every rule has an entry), in evaluation order
    actions: dict[str, list[str]]
    #: facts each rule produced: rule -> fact -> value
    new_facts: dict[str, dict[str, bool]]
    #: the ``de_logicengine_facts`` DataFrame
    facts_table: pd.DataFrame

    def selected_publishers(self) -> list[str]:
        """The publishers to run: every action, in rule order, each once."""
        return list(dict.fromkeys(p for names in self.actions.values() for p in names))


def build_facts_table(new_facts: Mapping[str, Mapping[str, bool]]) -> pd.DataFrame:
    """Build the ``de_logicengine_facts`` DataFrame; empty (with its columns) if no facts."""
    rows = [(rule, fact, value) for rule, facts in new_facts.items() for fact, value in facts.items()]
    return pd.DataFrame({column: [row[i] for row in rows] for i, column in enumerate(FACTS_COLUMNS)})


def _describe_names(names: Iterable[Any]) -> str:
    try:
        available = sorted(str(n) for n in names)
    except Exception:  # a data block that cannot list its products
        return "the available names could not be listed"
    if not available:
        return "no names are available"
    return "available names: " + ", ".join(f"'{n}'" for n in available)


class LogicEngine(LogicEngineBase):
    """The Decision Engine's logic engine (``decisionengine.framework.logicengine.LogicEngine``)."""

    Parameters: ClassVar[type[ModuleParameters]] = LogicEngineParameters
    params: LogicEngineParameters

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        problems: list[Problem] = []

        self._facts: dict[str, Expression] = {}
        for name, text in self.params.facts.items():
            try:
                self._facts[name] = parse_expression(text)
            except ExpressionError as exc:
                problems.append(Problem(file="", key=f"facts.{name}", message=str(exc)))

        rules: dict[str, _CompiledRule] = {}
        for name, rule in self.params.rules.items():
            try:
                expression = parse_expression(rule.expression)
            except ExpressionError as exc:
                problems.append(Problem(file="", key=f"rules.{name}.expression", message=str(exc)))
                continue
            rules[name] = _CompiledRule(
                name=name,
                expression=expression,
                actions=tuple(rule.actions),
                false_actions=tuple(rule.false_actions),
                new_facts=tuple(rule.facts),
            )

        # the fact registry: fact -> [producer, ...]; "" for a top-level fact (FactLookup)
        registry: dict[str, list[str]] = {name: [_TOP_LEVEL] for name in self.params.facts}
        for name, rule in self.params.rules.items():
            for fact in rule.facts:
                registry.setdefault(fact, []).append(name)

        dependencies: dict[str, set[str]] = {}
        for name, compiled in rules.items():
            dependencies[name] = set()
            for fact in sorted(compiled.expression.required_names):
                if fact not in registry:
                    problems.append(
                        Problem(
                            file="",
                            key=f"rules.{name}.expression",
                            message=(
                                f"name '{fact}' is neither a fact nor produced by any rule; "
                                f"known facts: {', '.join(repr(f) for f in registry) or 'none'}"
                            ),
                        )
                    )
                elif registry[fact][0] != _TOP_LEVEL:
                    dependencies[name].add(registry[fact][0])

        order: list[str] = []
        try:
            order = list(toposort_flatten(dependencies, sort=True))
        except CircularDependencyError as exc:
            cycle = ", ".join(f"{rule} needs {sorted(deps)}" for rule, deps in sorted(exc.data.items()))
            problems.append(
                Problem(file="", key="rules", message=f"rules depend on each other in a cycle: {cycle}")
            )

        if problems:
            raise ConfigError(problems)
        self._rules: list[_CompiledRule] = [rules[name] for name in order]
        logger.debug("logic engine rule order: %s", order)

    # -- construction helpers ---------------------------------------------------------------------
    @classmethod
    def passthrough(cls, publisher_keys: Iterable[str], *, channel_name: str = "") -> LogicEngine:
        """A logic engine that runs every publisher (the original's ``passthrough_configuration``)."""
        parameters = {"facts": {}, "rules": {"r1": {"expression": "True", "actions": list(publisher_keys)}}}
        return cls(parameters, channel_name=channel_name)

    # -- introspection ----------------------------------------------------------------------------
    @property
    def rule_order(self) -> list[str]:
        """Rule names in evaluation order."""
        return [rule.name for rule in self._rules]

    def required_products(self) -> set[str]:
        """Product names the top-level facts read (the original's ``consumes()``)."""
        return {name for fact in self._facts.values() for name in fact.required_names}

    def referenced_publishers(self) -> list[str]:
        """Every publisher any rule names (actions, then false actions), in rule order, each once."""
        names = [p for rule in self._rules for p in (*rule.actions, *rule.false_actions)]
        return list(dict.fromkeys(names))

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluate_facts(self, data_block: Mapping[str, Any]) -> dict[str, bool]:
        """Evaluate every top-level fact over the products in ``data_block``."""
        values: dict[str, bool] = {}
        for name, fact in self._facts.items():
            try:
                values[name] = fact.evaluate_bool(data_block)
            except NameError as exc:
                message = f"{exc} (fact '{name}': {fact.source!r}); {_describe_names(data_block)}"
                logger.error("The following error was encountered: %s", message)
                raise NameError(message, name=exc.name) from exc
            except Exception as exc:
                exc.add_note(f"while evaluating fact '{name}': {fact.source!r}")
                logger.exception("Unexpected exception while evaluating fact '%s'", name)
                raise
        return values

    def evaluate_detailed(self, data_block: Mapping[str, Any]) -> Evaluation:
        """Evaluate facts, then rules; return every intermediate result."""
        fact_values = self.evaluate_facts(data_block)
        for name, value in fact_values.items():
            logger.info("Evaluated fact %s -> %s", name, value)
        facts: dict[str, bool] = dict(fact_values)
        actions: dict[str, list[str]] = {rule.name: [] for rule in self._rules}
        rule_results: dict[str, bool] = {}
        new_facts: dict[str, dict[str, bool]] = {}
        for rule in self._rules:
            try:
                result = rule.expression.evaluate_bool(facts)
            except Exception as exc:
                exc.add_note(
                    f"while evaluating rule '{rule.name}': {rule.expression.source!r}; {_describe_names(facts)}"
                )
                raise
            rule_results[rule.name] = result
            if result and rule.actions:
                actions[rule.name] = list(rule.actions)
            if not result and rule.false_actions:
                actions[rule.name] = list(rule.false_actions)
            if rule.new_facts:
                produced = {fact: result for fact in rule.new_facts}
                new_facts[rule.name] = produced
                facts = {**produced, **facts}  # the first value of a name wins
        return Evaluation(
            fact_values=fact_values,
            rule_results=rule_results,
            actions=actions,
            new_facts=new_facts,
            facts_table=build_facts_table(new_facts),
        )

    def evaluate(self, data_block: Mapping[str, Any]) -> tuple[dict[str, list[str]], pd.DataFrame]:
        """Return ``(actions, facts_table)`` as the original's ``evaluate`` did."""
        evaluation = self.evaluate_detailed(data_block)
        return evaluation.actions, evaluation.facts_table
