"""DataBlock benchmark: put + get of an HTCondor-like job table through ``DynamoDataBlockStore``.

Runs in process under moto (``mock_aws``; fake credentials are set for the duration of the run),
so the figures measure encoding, decoding and the client-side cost of DynamoDB/S3 calls, not the
network.  Goal: put + get of a 150 000 × 30 table in at most 1 s, stored in at most 10 MB.

``python -m hepde_tools.bench.datablock [rows] [cols]`` or ``de bench datablock``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = ["GOAL_MB", "GOAL_SECONDS", "job_table", "main", "run"]

GOAL_SECONDS: Final = 1.0
GOAL_MB: Final = 10.0
REPEATS: Final = 3

_REGION: Final = "us-east-1"
_TABLE: Final = "hepde-bench-datablock"
_BUCKET: Final = "hepde-bench-datablock"

_OWNERS: Final = [f"user{i:03d}" for i in range(60)] + [
    "cmsprod",
    "uboonepro",
    "novapro",
    "dunepro",
    "mu2epro",
]
_VOS: Final = ["cms", "fermilab", "dune", "uboone", "nova", "mu2e", "icarus", "des"]
_SITES: Final = [
    "T1_US_FNAL",
    "T2_US_Nebraska",
    "T2_US_Purdue",
    "T2_US_Wisconsin,T2_US_UCSD",
    "FermiGrid",
    "FermiGrid,NERSC",
    "AWS_us-east-1",
    "GCE_us-central1",
    "T2_US_MIT,T2_US_Caltech,T2_US_Florida",
    "Any",
]
_SCHEDDS: Final = [f"jobsub{i:02d}.fnal.gov" for i in range(1, 9)]
_USAGE_MODELS: Final = [
    "DEDICATED",
    "OPPORTUNISTIC",
    "DEDICATED,OPPORTUNISTIC",
    "OFFSITE",
    "DEDICATED,OPPORTUNISTIC,OFFSITE",
]
_CMDS: Final = ["/bin/bash", "cmsRun.sh", "simple.sh", "run_reco.sh", "lar_wrapper.sh", "condor_exec.exe"]


def job_table(rows: int = 150_000, cols: int = 30, seed: int = 20240601) -> pd.DataFrame:
    """A deterministic table shaped like HTCondor job ads (ints, floats, strings, bools)."""
    rng = np.random.default_rng(seed)
    n = rows
    cluster = 1_000_000 + np.arange(n, dtype=np.int64) // 10
    proc = np.arange(n, dtype=np.int64) % 10
    qdate = 1_717_200_000 + np.sort(rng.integers(0, 86_400 * 7, n)).astype(np.int64)
    owner_idx = rng.integers(0, len(_OWNERS), n)
    vo_idx = owner_idx % len(_VOS)
    schedd_idx = (cluster // 97) % len(_SCHEDDS)

    def pick(values: list[str], idx: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object)[idx], dtype="str")

    columns: list[tuple[str, Callable[[], Any]]] = [
        ("ClusterId", lambda: cluster),
        ("ProcId", lambda: proc),
        ("JobStatus", lambda: rng.choice(np.array([1, 2, 5], dtype=np.int64), n, p=[0.6, 0.35, 0.05])),
        (
            "RequestCpus",
            lambda: rng.choice(np.array([1, 2, 4, 8], dtype=np.int64), n, p=[0.7, 0.1, 0.1, 0.1]),
        ),
        ("RequestMemory", lambda: rng.choice(np.array([2000, 2500, 4000, 8000, 16000], dtype=np.int64), n)),
        ("RequestDisk", lambda: rng.integers(1, 40, n).astype(np.int64) * 1_000_000),
        ("JobUniverse", lambda: np.full(n, 5, dtype=np.int64)),
        ("NumJobStarts", lambda: rng.poisson(0.3, n).astype(np.int64)),
        ("QDate", lambda: qdate),
        ("EnteredCurrentStatus", lambda: qdate + rng.integers(0, 36_000, n)),
        ("JobPrio", lambda: rng.choice(np.array([0, 0, 0, 10, -5], dtype=np.int64), n)),
        ("ImageSize", lambda: rng.integers(1_000, 4_000_000, n).astype(np.int64)),
        ("MaxWallTimeMins", lambda: rng.choice(np.array([60, 480, 1440, 2880], dtype=np.int64), n)),
        ("RemoteUserCpu", lambda: np.round(rng.exponential(3600.0, n), 1)),
        ("RemoteSysCpu", lambda: np.round(rng.exponential(60.0, n), 1)),
        ("RemoteWallClockTime", lambda: np.round(rng.exponential(5000.0, n), 0)),
        ("CumulativeSlotTime", lambda: np.round(rng.exponential(5200.0, n), 0)),
        ("MemoryUsage", lambda: np.round(rng.gamma(2.0, 800.0, n), 0)),
        ("Owner", lambda: pick(_OWNERS, owner_idx)),
        (
            "AccountingGroup",
            lambda: pd.Series(
                [f"group_{_VOS[v]}.{_OWNERS[o]}" for v, o in zip(vo_idx, owner_idx, strict=True)], dtype="str"
            ),
        ),
        ("DESIRED_Sites", lambda: pick(_SITES, rng.integers(0, len(_SITES), n))),
        ("x509UserProxyVOName", lambda: pick(_VOS, vo_idx)),
        ("DESIRED_usage_model", lambda: pick(_USAGE_MODELS, rng.integers(0, len(_USAGE_MODELS), n))),
        (
            "GlobalJobId",
            lambda: pd.Series(
                [
                    f"{_SCHEDDS[s]}#{c}.{p}#{q}"
                    for s, c, p, q in zip(schedd_idx, cluster, proc, qdate, strict=True)
                ],
                dtype="str",
            ),
        ),
        ("ScheddName", lambda: pick(_SCHEDDS, schedd_idx)),
        ("Cmd", lambda: pick(_CMDS, owner_idx % len(_CMDS))),
        ("WantGlidein", lambda: rng.random(n) < 0.9),
        ("OnExitRemove", lambda: np.ones(n, dtype=bool)),
        ("WantRemoteIO", lambda: rng.random(n) < 0.2),
        ("TransferInput", lambda: rng.random(n) < 0.5),
    ]
    data: dict[str, Any] = {}
    for i in range(cols):
        name, make = columns[i % len(columns)]
        data[name if i < len(columns) else f"{name}_{i // len(columns)}"] = make()
    return pd.DataFrame(data)


@contextmanager
def _fake_aws_env() -> Iterator[None]:
    keys = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": _REGION,
        "AWS_REGION": _REGION,
    }
    saved = {key: os.environ.get(key) for key in [*keys, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(keys)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _attribute_size(value: dict[str, Any]) -> int:
    """Approximate DynamoDB size of one attribute value in the low-level (typed JSON) form."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k) + _attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_attribute_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in inner)
    return len(str(inner))


def item_size(item: dict[str, Any]) -> int:
    """Approximate DynamoDB item size (attribute names + values) of a ``get_item`` result."""
    return sum(len(name) + _attribute_size(value) for name, value in item.items())


def run(rows: int = 150_000, cols: int = 30) -> dict[str, Any]:
    """Measure put and get (median of 3) of a ``rows`` × ``cols`` job table; verifies the round trip."""
    import boto3
    from moto import mock_aws
    from pandas.testing import assert_frame_equal

    from hepde.datablock.api import Header, Metadata, ProductRef
    from hepde.datablock.dynamo import DynamoDataBlockStore

    frame = job_table(rows, cols)
    namespace, name = "source:bench_jobs", "job_manifests"
    puts: list[float] = []
    gets: list[float] = []
    with _fake_aws_env(), mock_aws():
        s3 = boto3.client("s3", region_name=_REGION)
        s3.create_bucket(Bucket=_BUCKET)
        store = DynamoDataBlockStore(_TABLE, _BUCKET, region=_REGION, s3_client=s3)
        store.create_table(wait=True)
        result = None
        for generation in range(1, REPEATS + 1):
            header = Header.new("bench", 1800.0)
            t0 = time.perf_counter()
            infos = store.put_products(namespace, generation, {name: frame}, header, Metadata(generation))
            t1 = time.perf_counter()
            result = store.get_product(ProductRef(namespace, generation, name))
            t2 = time.perf_counter()
            puts.append(t1 - t0)
            gets.append(t2 - t1)
        assert result is not None
        assert_frame_equal(frame, result)
        info = infos[0]
        raw = boto3.client("dynamodb", region_name=_REGION).get_item(
            TableName=_TABLE,
            Key={"pk": {"S": namespace}, "sk": {"S": f"P#{REPEATS:012d}#{name}"}},
            ConsistentRead=True,
        )["Item"]
        stored_item = item_size(raw)
        stored_s3 = 0
        if info.in_s3:
            stored_s3 = s3.head_object(Bucket=_BUCKET, Key=store.s3_key(info.ref))["ContentLength"]
    put_s = statistics.median(puts)
    get_s = statistics.median(gets)
    stored = stored_item + stored_s3
    return {
        "rows": rows,
        "cols": cols,
        "memory_mb": frame.memory_usage(deep=True).sum() / 1e6,
        "put_s": put_s,
        "get_s": get_s,
        "put_get_s": put_s + get_s,
        "put_runs_s": puts,
        "get_runs_s": gets,
        "stored_bytes": stored,
        "stored_item_bytes": stored_item,
        "stored_s3_bytes": stored_s3,
        "stored_mb": stored / 1e6,
        "in_s3": info.in_s3,
        "encoding": "parquet/dataframe",
        "round_trip_equal": True,
        "goal_seconds": GOAL_SECONDS,
        "goal_mb": GOAL_MB,
        "passed": put_s + get_s <= GOAL_SECONDS and stored / 1e6 <= GOAL_MB,
    }


def format_result(result: dict[str, Any]) -> str:
    """The benchmark's result as a small text table."""
    verdict = "PASS" if result["passed"] else "MISS"
    lines = [
        "DataBlock benchmark (DynamoDataBlockStore under moto, median of 3)",
        f"  rows            {result['rows']:>12,}",
        f"  cols            {result['cols']:>12}",
        f"  in memory MB    {result['memory_mb']:>12.2f}",
        f"  put s           {result['put_s']:>12.3f}",
        f"  get s           {result['get_s']:>12.3f}",
        f"  put+get s       {result['put_get_s']:>12.3f}   goal <= {result['goal_seconds']:g} s",
        f"  stored MB       {result['stored_mb']:>12.2f}   goal <= {result['goal_mb']:g} MB"
        f"  (item {result['stored_item_bytes']:,} B + S3 {result['stored_s3_bytes']:,} B)",
        f"  round trip      {'equal' if result['round_trip_equal'] else 'DIFFERENT':>12}",
        f"  result          {verdict:>12}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; exit status 0 on PASS, 1 on MISS.

    ``argv`` (optional): ``[rows, [cols]]``; ``None`` runs the default size (``sys.argv`` is only
    read when run as ``python -m hepde_tools.bench.datablock``).
    """
    args = argv or []
    rows = int(args[0]) if args else 150_000
    cols = int(args[1]) if len(args) > 1 else 30
    result = run(rows, cols)
    print(format_result(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
