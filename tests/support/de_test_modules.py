"""Modules the functional tests configure by import path (third-party style, against hepde.modules.base)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult, Source, Transform


class CounterFileSource(Source):
    """Reads ``{"value": N}`` from a JSON file; fails when the file is missing (a collector outage)."""

    params: Parameters

    class Parameters(ModuleParameters):
        path: str
        product: str = "counter"

    def __init__(self, parameters=None, *, channel_name=""):
        super().__init__(parameters, channel_name=channel_name)
        self._produces = {self.params.product: pd.DataFrame}

    def acquire(self):
        data = json.loads(Path(self.params.path).read_text())
        return {self.params.product: pd.DataFrame({"value": [int(data["value"])]})}


@Transform.consumes(counter=pd.DataFrame)
@Transform.produces(doubled=pd.DataFrame)
class Doubler(Transform):
    def transform(self, data_block):
        return {"doubled": data_block["counter"].assign(value=lambda f: f["value"] * 2)}


@Transform.consumes(counter=pd.DataFrame)
@Transform.produces(broken=pd.DataFrame)
class FailingTransform(Transform):
    def transform(self, data_block):
        raise ValueError("this transform always fails")


class RecordingPublisher(Publisher):
    """Appends one JSON line per publish to ``path``: what it saw.  Fails if ``fail`` is set."""

    params: Parameters

    class Parameters(ModuleParameters):
        path: str
        product: str = "doubled"
        fail: bool = False

    def __init__(self, parameters=None, *, channel_name=""):
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = {self.params.product: pd.DataFrame}

    def publish(self, data_block):
        if self.params.fail:
            raise RuntimeError("the factory collector refused the advertisement")
        frame = data_block[self.params.product]
        with open(self.params.path, "a") as fh:
            fh.write(json.dumps({"channel": self.channel_name, "values": frame["value"].tolist()}) + "\n")
        return PublishResult(
            summary=f"recorded {len(frame)} row(s)", requested=frame.to_dict(orient="records")
        )
