"""Benchmarks (``de bench <name>``); each module has ``run(...) -> dict`` and ``main()``."""
