"""Channel configuration: loading (Jsonnet/JSON), the typed model, validation and the product graph."""

from hepde.config.model import ChannelConfig, ModuleEntry

__all__ = ["ChannelConfig", "ModuleEntry"]
