"""de products print/query/list and de logs over a deployment in the embedded cloud."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from hepde.errors import ProductNotFoundError
from hepde.ops.logs import cycle_logs
from hepde.ops.products import BadQueryError, apply_query, check_query, query_product, select
from hepde_tools.cli import support as clisupport
from hepde_tools.cli.main import main
from hepde_tools.cli.render import render


def test_ops_products_print_table_is_the_original_de_client_format(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert main(["products", "print", "pilot_requests"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Product pilot_requests:  Found in channel example\n+----+")
    assert "requested_pilots" in out and "limited_by" in out


def test_ops_products_print_columns_query_types_and_formats(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert (
            main(
                [
                    "products",
                    "print",
                    "job_demand",
                    "--channel",
                    "example",
                    "--columns",
                    "cores,idle_jobs",
                    "--query",
                    "idle_jobs > 5 and cores < 8",
                    "--format",
                    "json",
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        body = json.loads(out.split("\n", 1)[1])
        assert body == {"cores": {"0": 1}, "idle_jobs": {"0": 15}}
        assert (
            main(["products", "print", "job_demand", "--types", "--columns", "cores", "--format", "csv"]) == 0
        )
        assert "cores,cores.type" in capsys.readouterr().out
        assert main(["products", "print", "job_demand", "--format", "column-names"]) == 0
        out = capsys.readouterr().out
        assert "| columns      |" in out and "running_jobs" in out
        assert main(["products", "print", "job_demand", "--format", "vertical", "--query", "cores == 8"]) == 0
        out = capsys.readouterr().out
        assert "Row 0\n" in out and "| running_jobs |" in out and "Row 1" not in out


@pytest.mark.parametrize(
    "query",
    [
        "__import__('os').system('echo pwned')",
        "@pd.io",
        "cores.__class__",
        "cores.mro()",
        "idle_jobs.to_pickle('x')",
        "(lambda: 1)()",
    ],
)
def test_ops_products_unsafe_queries_are_refused_before_pandas_sees_them(query):
    frame = pd.DataFrame({"cores": [1, 8], "idle_jobs": [3, 4]})
    with pytest.raises(BadQueryError, match="bad query"):
        apply_query(frame, query)


def test_ops_products_good_queries_select_rows():
    frame = pd.DataFrame({"cores": [1, 4, 8], "site": ["a", "b", "c"]})
    assert list(apply_query(frame, "cores >= 4 and site != 'c'")["site"]) == ["b"]
    assert list(apply_query(frame, "`cores` in [1, 8]")["cores"]) == [1, 8]
    with pytest.raises(BadQueryError, match="nope"):
        apply_query(frame, "nope > 1")
    check_query("cores > 1")


def test_ops_products_bad_query_unknown_product_and_column_are_clear_errors(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert main(["products", "print", "job_demand", "--query", "__import__('os')"]) == 2
        assert "bad query" in capsys.readouterr().err
        assert main(["products", "print", "no_such_product"]) == 2
        err = capsys.readouterr().err
        assert "no_such_product" in err and "not produced by any of the channels (example)" in err
        assert main(["products", "print", "job_demand", "--columns", "cores,bogus"]) == 2
        assert "unknown column(s) bogus" in capsys.readouterr().err
        assert main(["products", "query", "job_demand", "--since", "yesterday-ish"]) == 2
        assert "cannot read the time" in capsys.readouterr().err


def test_ops_products_query_across_generations(deployment, capsys):
    store = deployment.ctx.store
    frame = query_product(store, ["example"], "pilot_requests", since=time.time() - 3600)
    assert list(frame.columns[:2]) == ["channel", "generation"]
    gens = sorted(set(frame["generation"]))
    assert len(gens) >= 2 and set(frame["channel"]) == {"example"}
    assert len(frame) == 3 * len(gens)
    seen = []
    query_product(
        store,
        ["example"],
        "pilot_requests",
        since=0,
        query="cores == 8",
        progress=lambda i, n, what: seen.append((i, n)),
    )
    assert seen[-1][0] == seen[-1][1]
    assert query_product(store, ["example"], "job_manifests", since=0)["generation"].nunique() == len(gens)
    with pytest.raises(ProductNotFoundError):
        query_product(store, ["example"], "pilot_requests", since=time.time() + 3600)
    with clisupport.use_context(deployment.ctx):
        assert (
            main(
                [
                    "products",
                    "query",
                    "pilot_requests",
                    "--since",
                    "2 hours ago",
                    "--format",
                    "csv",
                    "--columns",
                    "requested_pilots",
                ]
            )
            == 0
        )
    out = capsys.readouterr().out
    assert out.startswith(
        "Product pilot_requests:  Found in channel example\n,channel,generation,requested_pilots\n"
    )


def test_ops_products_list(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert main(["products", "list", "--json"]) == 0
    (listing,) = json.loads(capsys.readouterr().out)
    names = {p["product"] for p in listing["products"]}
    assert {"job_manifests", "pilot_requests", "actions", "de_logicengine_facts"} <= names


def test_ops_render_formats():
    frame = pd.DataFrame({"key1": ["value1"], "key2": [0]})
    assert render(frame, "table") == (
        "+----+--------+--------+\n|    | key1   |   key2 |\n|----+--------+--------|\n"
        "|  0 | value1 |      0 |\n+----+--------+--------+\n"
    )
    assert render(select(frame, types=True), "csv") == ",key1,key1.type,key2,key2.type\n0,value1,str,0,int\n"


def test_ops_logs_of_a_cycle_by_execution_id(deployment, capsys):
    first = cycle_logs(deployment.ctx, "example", 1)
    assert first["execution_id"] == deployment.executions[0]
    messages = [e["message"] for e in first["events"]]
    assert "cycle stage of channel example" in messages and "fact allow_grid is constant" in messages
    assert any(m.startswith("START RequestId: req-") for m in messages)  # by request id
    assert any("Evaluated fact queue_seen" in m for m in messages)
    assert not any("another cycle" in m for m in messages)
    assert all(e["fields"].get("correlation_id") in (None, first["execution_id"]) for e in first["events"])
    second = cycle_logs(deployment.ctx, "example", 2)
    assert {e["message"] for e in second["events"] if e["fields"]} and second["execution_id"] != first[
        "execution_id"
    ]
    with clisupport.use_context(deployment.ctx):
        assert main(["logs", "--channel", "example", "--cycle", "1", "--level", "WARNING"]) == 0
    out = capsys.readouterr().out
    assert "fact allow_grid is constant" in out and "stage of channel" not in out
