"""The project's error classes.

Class names are part of the state-machine contract: Step Functions matches ``Retry``/``Catch``
``ErrorEquals`` on the exact exception class name a Lambda raised.  A contract test checks every
name used in ``statemachines/`` exists here.
"""

from __future__ import annotations

from dataclasses import dataclass


class DEError(Exception):
    """Base of every error this project raises on purpose; its message is meant for a user."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem: where it is and what was expected."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(DEError):
    """A channel configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ModuleResolutionError(DEError):
    """A ``module``/``name`` pair does not name a usable module class."""


class ModuleFailedError(DEError):
    """A channel module raised while running; the cycle fails and nothing is published."""


class SourceFailedError(ModuleFailedError):
    """A source's ``acquire`` raised or returned products that do not match its declaration."""


class TransformFailedError(ModuleFailedError):
    """A transform raised or returned products that do not match its declaration."""


class LogicEngineFailedError(ModuleFailedError):
    """The logic engine raised while evaluating facts or rules."""


class PublisherFailedError(ModuleFailedError):
    """A publisher raised while publishing."""


class HoldCycleError(DEError):
    """A transform judged its inputs implausible: the cycle is held like one with stale inputs.

    Nothing is decided or published (the last published requests stay in effect); the cycle record
    is ``HELD`` with the transform's reason.
    """


class CycleInProgressError(DEError):
    """Another cycle of the same channel is running; cycles of one channel never interleave."""


class ProductNotFoundError(DEError, KeyError):
    """A data product is not in the DataBlock."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "product not found"


class ProductEncodingError(DEError):
    """A product value cannot be stored (unsupported type) or a stored value cannot be decoded."""


class DataBlockUnavailableError(DEError):
    """DynamoDB/S3 refused or timed out: transient, the state machine retries it."""


class ChannelNotFoundError(DEError):
    """No channel of that name is deployed/known."""
