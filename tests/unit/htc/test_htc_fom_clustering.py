"""Job clustering, the Grid figure of merit and the FOM ranking: the original 2.0.6's test numbers."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from hepde.modules.glideinwms.entries import by_type
from hepde.modules.glideinwms.expressions import QueryExpressionError
from hepde.modules.glideinwms.fom import fom_eligible_resources, order_resources
from hepde.modules.glideinwms.transforms import GridFigureOfMerit, JobClustering

INF = sys.float_info.max
MATCH = [
    ("VO_Name=='cms' and RequestCpus==1 and (MaxWallTimeMins>0 and MaxWallTimeMins<= 60*12)", "group_1"),
    ("VO_Name=='cms' and RequestCpus==2 and (MaxWallTimeMins>0 and MaxWallTimeMins<= 60*12)", "group_2"),
    ("VO_Name=='cms' and RequestCpus==1 and (MaxWallTimeMins>60*12 and MaxWallTimeMins<= 60*24)", "group_3"),
    ("VO_Name=='cms' and RequestCpus==2 and (MaxWallTimeMins>60*12 and MaxWallTimeMins<= 60*24)", "group_4"),
    ("VO_Name=='nova'", "group_5"),
]
CONFIG = {
    "match_expressions": [
        {
            "job_bucket_criteria_expr": j,
            "frontend_group": g,
            "site_bucket_criteria_expr": ["GLIDEIN_Supported_VOs.str.contains('CMS')"],
        }
        for j, g in MATCH
    ],
    "job_q_expr": "JobStatus==1",
}
JOBS = pd.DataFrame(
    {
        "VO_Name": ["cms"] * 6 + ["nova", "nova", "des"],
        "RequestCpus": [1, 1, 1, 1, 2, 2, 1, 2, 1],
        "MaxWallTimeMins": [240, 240, 1080, 720, 240, 1080, 720, 240, 240],
        "JobStatus": [1, 5, 1, 1, 1, 1, 1, 1, 1],
    }
)


def test_job_clustering_counts_idle_jobs_per_bucket_as_the_original():
    out = JobClustering(CONFIG).transform({"job_manifests": JOBS})["job_clusters"]
    assert list(out.columns) == [
        "Job_Bucket_Criteria_Expr",
        "Site_Bucket_Criteria_Expr",
        "Totals",
        "Frontend_Group",
    ]
    assert out["Totals"].tolist() == [2, 1, 1, 1, 2] and out["Totals"].sum() == 7
    assert out["Frontend_Group"].tolist() == [g for _, g in MATCH]


@pytest.mark.parametrize(
    "jobs", [pd.DataFrame(), JOBS.drop(columns=["RequestCpus"])], ids=["empty", "missing-column"]
)
def test_job_clustering_gives_zero_totals_on_empty_or_incomplete_queues(jobs):
    out = JobClustering(CONFIG).transform({"job_manifests": jobs})["job_clusters"]
    assert out["Totals"].tolist() == [0] * 5


def test_job_clustering_rejects_unsafe_expressions_when_configured():
    bad = {
        **CONFIG,
        "match_expressions": [
            {
                "job_bucket_criteria_expr": "__import__('os').system('x')",
                "frontend_group": "g",
                "site_bucket_criteria_expr": ["True"],
            }
        ],
    }
    with pytest.raises(QueryExpressionError):
        JobClustering(bad)


def test_grid_figure_of_merit_equals_the_original():
    entries = pd.DataFrame(
        {
            "EntryName": ["g1", "g2", "g3", "g4", "g5"],
            "GLIDEIN_GridType": "gt2",
            "GlideinMonitorTotalStatusRunning": [5, 10, 15, 20, 200],
            "GlideinConfigPerEntryMaxGlideins": [10, 10, 10, 2000, 500],
            "GlideinMonitorTotalStatusIdle": [20, 3, 4, 5, 6],
            "GlideinConfigPerEntryMaxIdle": 10,
        }
    )
    out = GridFigureOfMerit({}).transform({"Factory_Entries": by_type(entries)})["Grid_Figure_Of_Merit"]
    expected = pd.DataFrame(
        {
            "EntryName": ["g1", "g2", "g3", "g4", "g5"],
            "Grid_Figure_Of_Merit": [INF, INF, INF, 1.05e-2, 4.02e-1],
        }
    )
    assert expected.equals(out)


def test_fix_keyerror_when_the_factory_has_no_entries_of_a_type():
    # Given a factory with only AWS entries (no "Grid" key at all in the original's frame)
    aws_only = by_type(pd.DataFrame({"Name": ["a@g@f"], "EntryName": ["a"], "GLIDEIN_GridType": ["ec2"]}))
    # Then the Grid FOM is empty instead of a KeyError, and every type can be selected
    assert GridFigureOfMerit({}).transform({"Factory_Entries": aws_only})["Grid_Figure_Of_Merit"].empty
    from hepde.modules.glideinwms.entries import of_type

    assert of_type(aws_only, "GCE").empty and len(of_type(aws_only, "AWS")) == 1
    assert of_type(pd.DataFrame(), "LCF").empty


FOMS = {
    "Grid_Figure_Of_Merit": pd.DataFrame(
        {"EntryName": ["g1", "g2", "g3", "g4", "g5"], "Grid_Figure_Of_Merit": [0] * 5}
    ),
    "AWS_Figure_Of_Merit": pd.DataFrame(
        {"EntryName": ["a1", "a2", "a3", "a4", "a5"], "AWS_Figure_Of_Merit": [0.01, 0.1, 1, 0.1, 0.15]}
    ),
    "Nersc_Figure_Of_Merit": pd.DataFrame(
        {"EntryName": ["n1", "n2", "n3", "n4", "n5"], "FigureOfMerit": [0.1, 0.3, 1, 2.1, 0.05]}
    ),
}


def test_resources_are_ordered_by_fom_then_name_as_the_original():
    out = order_resources(FOMS)
    assert out["EntryName"].tolist() == [
        "g1",
        "g2",
        "g3",
        "g4",
        "g5",
        "a1",
        "n5",
        "a2",
        "a4",
        "n1",
        "a5",
        "n2",
        "a3",
        "n3",
        "n4",
    ]
    limited = fom_eligible_resources(FOMS, constraint="FOM < 1", limit=8).reset_index(drop=True)
    assert limited["EntryName"].tolist() == ["g1", "g2", "g3", "g4", "g5", "a1", "n5", "a2"]
