"""The example channel runs offline in the embedded cloud; the benchmark and its CLI; fixture copies; urllib."""

from __future__ import annotations

import filecmp
import http.server
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from cloud_test_support import FIXTURES, SHARED

from hepde.modules.cloud.http import HttpClient, UrllibTransport
from hepde_tools.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[3]
CHANNEL = ROOT / "channels" / "cloud_economics.jsonnet"


@pytest.mark.slow
def test_the_example_channel_runs_and_stops_nersc_with_the_reason(capsys):
    assert main(["run", str(CHANNEL), "--cycles", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cycle = report[0] if isinstance(report, list) else report
    text = json.dumps(cycle)
    assert "allow_lcf_requests" in text and "allow_aws_requests" in text
    assert "new requests stopped for NERSC" in text and "less than 4000 h" in text


def test_the_example_channel_validates_and_its_state_machine_is_current():
    assert main(["validate", str(CHANNEL)]) == 0
    assert main(["asl", "--check", str(CHANNEL)]) == 0


def test_bench_cloud_is_a_de_bench_command(capsys):
    args = build_parser().parse_args(["bench", "cloud", "--regions", "2", "--types", "30", "--repeats", "1"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert (
        "2 regions x 30 instance types x 3 zones, 360 spot price records -> 180 latest prices -> 180 FOM rows"
        in out
    )
    assert "FigureOfMerit transform" in out and out.rstrip().splitlines()[-1].strip().startswith("total")


def test_fixture_copies_equal_the_shared_originals():
    if not SHARED.is_dir():
        pytest.skip(f"the shared seed fixtures are not at {SHARED}")
    for copy in sorted(FIXTURES.iterdir()):
        for sub in ("modules-AWS-tests-data", "modules-tests-data"):
            original = SHARED / sub / copy.name
            if original.exists():
                assert filecmp.cmp(copy, original, shallow=False), copy.name


def test_urllib_transport_against_a_loopback_server():
    calls: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            calls.append(self.headers.get("Authorization", ""))
            status = 503 if len(calls) == 1 else 200
            body = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = HttpClient(UrllibTransport(), retries=2, retry_wait=0, timeout=5)
        url = f"http://127.0.0.1:{server.server_address[1]}/x"
        assert client.get_json(url, headers={"Authorization": "Bearer t"}) == {"ok": True}
        assert calls == ["Bearer t", "Bearer t"]
    finally:
        server.shutdown()
        server.server_close()
    from hepde.modules.cloud.common import ProviderError

    with pytest.raises(ProviderError, match="after 1 attempts"):
        HttpClient(UrllibTransport(), retries=0, timeout=2).get_json(url)


def test_spot_occupancy_config_survives_the_datablock_codec():
    from hepde.datablock.codec import decode, encode
    from hepde.modules.cloud.aws.logic import account_regions

    config = pd.DataFrame.from_dict(
        {"CMS": {"us-east-1": ["m5.large"]}, "FIFE": {"us-west-2": ["c5.xlarge", "m5.large"]}}
    )
    back = decode(*encode(config))
    assert sorted(account_regions(back)) == [
        ("CMS", "us-east-1", ["m5.large"]),
        ("FIFE", "us-west-2", ["c5.xlarge", "m5.large"]),
    ]
