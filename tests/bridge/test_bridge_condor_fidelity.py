"""What real HTCondor daemons exposed in the product (issue 12): reasons of every hold/remove reach the
schedd through htcondor2's ``(reason, code)`` form, errors are classified as the bindings word them,
the submitting identity is configurable and checked, a CE target's token reaches the job ad."""

from __future__ import annotations

import json
import sys
import types

import pytest
from bridge_harness import PILOT

from hepde.actions import SubmitPilots, idempotency_key
from hepde.condor.adapter import (
    CondorInvalidError,
    CondorRefusedError,
    CondorSettings,
    CondorUnavailableError,
    HTCondorSchedd,
    translate,
)
from hepde.condor.fakes import FakeSchedd
from hepde.modules.direct.targets import CETarget
from hepde_bridge.config import BridgeConfigError, parse_config
from hepde_bridge.main import check_submitter, real_collectors, real_schedds


class _Recorder(types.ModuleType):
    """Just enough of htcondor2 to see what HTCondorSchedd.act hands to Schedd.act."""

    def __init__(self) -> None:
        super().__init__("htcondor2")
        self.acts: list[tuple] = []
        outer = self

        class JobAction:
            Remove, Hold, Release = "Remove", "Hold", "Release"

        class DaemonType:
            Schedd = "Schedd"

        class Collector:
            def __init__(self, pool=None, security=None):
                pass

            def locate(self, kind, name=None):
                return {"Name": name or "schedd@local", "MyAddress": "<127.0.0.1:1>"}

        class Schedd:
            def __init__(self, location):
                pass

            def act(self, action, job_spec, reason=None):
                outer.acts.append((action, job_spec, reason))
                if job_spec == "bad ====":
                    raise ValueError("Invalid constraint.")
                return {"TotalSuccess": 2}

        self.JobAction, self.DaemonType, self.Collector, self.Schedd = (
            JobAction,
            DaemonType,
            Collector,
            Schedd,
        )


def test_every_hold_and_remove_passes_its_reason_in_the_form_htcondor2_keeps(monkeypatch):
    fake = _Recorder()
    monkeypatch.setitem(sys.modules, "htcondor2", fake)
    schedd = HTCondorSchedd("pilots")
    assert schedd.act("hold", "HepdeActionKey =!= undefined", "too many idle pilots") == 2
    assert schedd.act("remove", "true") == 2
    # a plain string would be dropped by htcondor2 25.x (HoldReason ""): a (reason, None) tuple is kept
    assert fake.acts == [
        ("Hold", "HepdeActionKey =!= undefined", ("too many idle pilots", None)),
        ("Remove", "true", ("de-bridge remove", None)),
    ]
    assert schedd.daemon_name == "schedd@local"
    with pytest.raises(CondorInvalidError, match="Invalid constraint"):
        schedd.act("hold", "bad ====", "x")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Failed to advertise to collector.", CondorUnavailableError),
        ("Failed communication with collector.", CondorUnavailableError),
        ("Failed to connect to schedd.", CondorUnavailableError),
        ("Unable to locate local daemon.", CondorUnavailableError),
        ("Unknown error from collector query.", CondorInvalidError),
        (
            "Failed to create job ad, errmsg=Submit:-1:I don't know about the 'x' universe.",
            CondorInvalidError,
        ),
        ("Failed to create new cluster. Failed to create new User record", CondorRefusedError),
        ("SCHEDD_REFUSED: MAX_JOBS_PER_OWNER exceeded", CondorRefusedError),
    ],
)
def test_errors_are_classified_as_the_bindings_word_them(message, kind):
    error = translate(RuntimeError(message), "what")
    assert type(error) is kind and message in str(error)


def test_the_submitting_identity_is_configured_checked_and_never_root():
    config = parse_config(
        {
            "bucket": "b",
            "schedds": {
                "pilots": {"submitter": "hepde@fnal.gov", "token_directory": "/etc/de-bridge/tokens.d"}
            },
            "collectors": {"factory": {"host": "f.example", "proxy_file": "/etc/de-bridge/proxy.pem"}},
        }
    )
    schedd = real_schedds(config)["pilots"]
    assert schedd.settings == CondorSettings(token_directory="/etc/de-bridge/tokens.d")
    assert real_collectors(config)["factory"].settings.proxy_file == "/etc/de-bridge/proxy.pem"
    assert check_submitter("hepde@fnal.gov", "hepde@fnal.gov") is None
    assert check_submitter("hepde", "hepde@fnal.gov") is None
    assert "expects submitter 'hepde@fnal.gov'" in check_submitter("hepde@fnal.gov", "other@fnal.gov")
    assert "never lets root own a job" in check_submitter("", "root@host")
    # a credential's path is configuration; the credential itself never is
    with pytest.raises(BridgeConfigError, match="absolute"):
        parse_config({"bucket": "b", "collectors": {"f": {"token_file": "eyJhbGciOi..."}}})
    with pytest.raises(BridgeConfigError, match="credentials do not belong"):
        parse_config({"bucket": "b", "collectors": {"f": {"token": "eyJhbGciOi..."}}})
    # the fake schedd owns jobs by the configured submitter
    from hepde_bridge.main import _fake_condor

    fakes, _ = _fake_condor(config)
    assert fakes["pilots"].owner == "hepde" and fakes["pilots"].whoami() == "hepde@fake.example"


def test_a_ce_target_token_file_reaches_the_job_ad(world):
    ce = CETarget(
        name="fermigrid",
        kind="htcondor_ce",
        ce="ce.fnal.gov",
        executable=PILOT,
        token_file="/etc/de-bridge/fermigrid.scitoken",
    )
    desc = ce.description()
    assert desc["scitokens_file"] == "/etc/de-bridge/fermigrid.scitoken"
    action = SubmitPilots(
        key=idempotency_key("direct", 1, "fermigrid"),
        channel="direct",
        generation=1,
        schedd="pilots",
        count=1,
        description=desc,
        target="fermigrid",
        route="single_core",
    )
    world.send(action)
    world.drain(world.bridge())
    jobs = world.schedd.query("true", ["ScitokensFile", "GridResource", "Owner"])
    assert jobs == [
        {
            "ScitokensFile": "/etc/de-bridge/fermigrid.scitoken",
            "GridResource": "condor ce.fnal.gov ce.fnal.gov:9619",
            "Owner": "bridge",
        }
    ]
    with pytest.raises(ValueError, match="token_file"):
        CETarget(name="x", kind="htcondor_ce", ce="ce", extra={"scitokens_file": "/t"})
    with pytest.raises(ValueError, match="token_file"):
        CETarget(name="x", kind="htcondor_ce", ce="ce", token_file="relative/path")
    assert "scitokens_file" not in CETarget(name="x", kind="htcondor_ce", ce="ce").description()


def test_fake_schedd_refuses_a_root_submitter_as_the_schedd_does():
    root = FakeSchedd("s", owner="root")
    with pytest.raises(CondorRefusedError, match="User record"):
        root.submit({"executable": "/bin/true"}, 1)
    assert json.dumps(root.query()) == "[]"
