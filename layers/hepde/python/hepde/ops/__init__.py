"""Operations on a deployed (or embedded) Decision Engine, as a library.

The ``de`` CLI and the REST API are thin layers over these plain functions.  Each takes what it reads
or drives as arguments — a :class:`~hepde.datablock.api.DataBlockStore` and the adapters of
:mod:`hepde.ops.aws` (EventBridge schedules, Step Functions executions, CloudWatch Logs), which take
their boto3 clients in their constructors — so tests pass moto / embedded-cloud clients and nothing
here reads the environment.

Modules: :mod:`~hepde.ops.status`, :mod:`~hepde.ops.products`, :mod:`~hepde.ops.history`,
:mod:`~hepde.ops.logs`, :mod:`~hepde.ops.control`, :mod:`~hepde_tools.replay`; results are JSON-able
dicts (the API returns them as they are; the CLI renders them).
"""
