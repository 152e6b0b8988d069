"""Job clustering and the Grid figure of merit (seed-system §4.3.3, §4.3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from hepde.modules.base import ModuleParameters, Transform
from hepde.modules.glideinwms.entries import of_type
from hepde.modules.glideinwms.expressions import check_query, query_mask
from hepde.modules.glideinwms.fom import figure_of_merit

CLUSTER_COLUMNS = ["Job_Bucket_Criteria_Expr", "Site_Bucket_Criteria_Expr", "Totals", "Frontend_Group"]


class MatchExpression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_bucket_criteria_expr: str
    site_bucket_criteria_expr: list[str]
    frontend_group: str

    @field_validator("job_bucket_criteria_expr")
    @classmethod
    def _job(cls, value: str) -> str:
        return check_query(value)

    @field_validator("site_bucket_criteria_expr")
    @classmethod
    def _sites(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one site bucket expression is needed")
        return [check_query(v) for v in value]


@Transform.consumes(job_manifests=pd.DataFrame)
@Transform.produces(job_clusters=pd.DataFrame)
class JobClustering(Transform):
    """Idle jobs counted per bucket: one row per match expression (= one frontend group bucket)."""

    class Parameters(ModuleParameters):
        match_expressions: list[MatchExpression]
        job_q_expr: str = "JobStatus==1"

        @field_validator("job_q_expr")
        @classmethod
        def _q(cls, value: str) -> str:
            return check_query(value)

    def _frame(self, totals: list[int]) -> pd.DataFrame:
        rows = [[m.job_bucket_criteria_expr, list(m.site_bucket_criteria_expr), t, m.frontend_group]
                for m, t in zip(self.params.match_expressions, totals, strict=True)]
        return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)

    def transform(self, data_block) -> dict[str, pd.DataFrame]:
        zeros = [0] * len(self.params.match_expressions)
        jobs = data_block.get("job_manifests")
        if jobs is None or jobs.empty:
            return {"job_clusters": self._frame(zeros)}
        jobs = jobs.reset_index(drop=True)
        try:
            queued = jobs.loc[query_mask(jobs, self.params.job_q_expr)]
            totals = [int(query_mask(queued, m.job_bucket_criteria_expr).sum()) for m in self.params.match_expressions]
        except (KeyError, ValueError, pd.errors.UndefinedVariableError):
            # as the original: missing attributes give empty buckets
            return {"job_clusters": self._frame(zeros)}
        return {"job_clusters": self._frame(totals)}


@Transform.consumes(Factory_Entries=pd.DataFrame)
@Transform.produces(Grid_Figure_Of_Merit=pd.DataFrame)
class GridFigureOfMerit(Transform):
    """``price_performance * (running + 1) / max_glideins`` per Grid entry; INF at a limit."""

    class Parameters(ModuleParameters):
        price_performance: float = 1

    def transform(self, data_block) -> dict[str, pd.DataFrame]:
        entries = of_type(data_block.get("Factory_Entries"), "Grid")
        if entries.empty:
            return {"Grid_Figure_Of_Merit": pd.DataFrame()}

        def col(name: str) -> np.ndarray:
            if name not in entries.columns:
                return np.full(len(entries), np.nan)
            return pd.to_numeric(entries[name], errors="coerce").to_numpy(dtype=float)

        fom = figure_of_merit(self.params.price_performance, col("GlideinMonitorTotalStatusRunning"),
                              col("GlideinConfigPerEntryMaxGlideins"), col("GlideinMonitorTotalStatusIdle"),
                              col("GlideinConfigPerEntryMaxIdle"))
        return {"Grid_Figure_Of_Merit": pd.DataFrame({"EntryName": entries["EntryName"].to_list(),
                                                      "Grid_Figure_Of_Merit": fom})}
