"""A channel ready to run: validated config, product graph and generated state machine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hepde.config.graph import ChannelGraph
from hepde.config.model import ChannelConfig
from hepde.errors import ConfigError
from hepde.runtime.asl import generate


@dataclass(frozen=True)
class PreparedChannel:
    config: ChannelConfig
    graph: ChannelGraph
    definition: dict[str, Any]

    @property
    def name(self) -> str:
        return self.config.name


def prepare(paths: Sequence[str | Path]) -> list[PreparedChannel]:
    """Validate channel files together (shared sources are checked across them) and build each one.

    Raises :class:`ConfigError` listing every problem of every file.
    """
    from hepde.config.validate import validate_channel, validate_paths

    configs, problems = validate_paths([str(p) for p in paths])
    if problems:
        raise ConfigError(problems)
    prepared = []
    for config in configs:
        graph, more = validate_channel(config)
        if more or graph is None:
            raise ConfigError(more)
        prepared.append(PreparedChannel(config, graph, generate(config, graph)))
    return prepared
