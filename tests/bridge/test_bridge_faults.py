"""Faults of the bridge, each reporting lost and duplicated submissions (both must be 0).

*lost*: pilots of a submit action missing although it was reported done, or an action silently
dropped (no jobs, no result saying it had no effect).  *duplicated*: jobs beyond an action's count, or
a second cluster for one key.  See ``bridge_harness.World.accounting``.
"""

from __future__ import annotations

import random

import botocore.exceptions
import pytest
from bridge_harness import Killed, advertise_action, submit_action

from hepde.actions import SubmitPilots, idempotency_key
from hepde.condor.adapter import COMPLETED, RUNNING


def report(name: str, counts: dict[str, int]) -> None:
    print(f"FAULT {name}: lost={counts['lost']} duplicated={counts['duplicated']}")


def kill_after(obj, attr: str, times: int = 1):
    """Make ``obj.attr`` do its work, then kill the process (the first ``times`` calls)."""
    original = getattr(obj, attr)
    left = {"n": times}

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        if left["n"] > 0:
            left["n"] -= 1
            raise Killed(attr)
        return out

    setattr(obj, attr, wrapper)


@pytest.mark.parametrize(
    "kill_point", ["after_submit_commit", "after_ledger_finish", "after_report", "after_mark_tried"]
)
def test_bridge_killed_between_submit_and_acknowledge(world, kill_point):
    # Given submit actions on the queue and a bridge that dies at the kill point of the first one
    world.send(submit_action(1, count=3), submit_action(2, count=2))
    first = world.bridge()
    target = {
        "after_submit_commit": (world.schedd, "submit"),
        "after_ledger_finish": (first.ledger, "finish"),
        "after_report": (world.results, "report"),
        "after_mark_tried": (first.ledger, "mark_tried"),
    }[kill_point]
    kill_after(*target)
    with pytest.raises(Killed):
        first.run_once()
    first.ledger.close()
    # When the bridge restarts and the unacknowledged message is delivered again (visibility timeout)
    world.visible_again()
    restarted = world.bridge()
    world.drain(restarted)
    # Then every action's pilots exist exactly once, and every action has a result
    counts = world.accounting()
    report(f"killed {kill_point}", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    statuses = {r.key: r.status for r in world.results.results}
    assert set(statuses) == {submit_action(1).key, submit_action(2).key}
    assert statuses[submit_action(1).key] in ("done", "already_done")
    if kill_point == "after_submit_commit":
        assert statuses[submit_action(1).key] == "already_done"  # found by its key, not submitted again
    assert world.schedd.submit_calls == 2


def test_the_same_message_delivered_twice(world):
    # Given the same action twice on the queue, and a third copy sent by a retried publisher later
    action = submit_action(1, count=4)
    world.send(action, action)
    retried = SubmitPilots.model_validate(action.model_dump() | {"created_at": action.created_at + 30})
    bridge = world.bridge()
    world.drain(bridge)
    world.send(retried)
    world.drain(bridge)
    # Then one cluster of 4, one effective result, the copies absorbed
    counts = world.accounting()
    report("same message delivered twice", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert world.schedd.submit_calls == 1
    assert bridge.metrics.counters["duplicates_absorbed"] == 2
    assert {r.status for r in world.results.results} == {"done"}


def test_schedd_refusing_for_a_while_then_accepting(world):
    world.schedd.refuse = 2
    world.send(submit_action(1, count=2))
    bridge = world.bridge()
    world.drain(bridge)
    counts = world.accounting()
    report("schedd refusing twice", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    (result,) = world.results.results
    assert result.status == "done" and result.attempts == 3
    assert bridge.metrics.counters["retries"] == 2


def test_schedd_refusing_for_good_is_dead_lettered_as_failed_with_the_reason(world):
    world.schedd.refuse = -1
    world.send(submit_action(1, count=2))
    world.drain(world.bridge())
    counts = world.accounting()
    report("schedd refusing for good", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    (result,) = world.results.results
    assert result.status == "failed" and "MAX_JOBS_PER_OWNER" in result.detail and result.attempts == 4
    (dead,) = world.dead_letters()
    assert dead["key"] == submit_action(1).key and "gave up after 4 attempt(s)" in dead["reason"]


def test_schedd_reply_lost_after_commit_is_found_by_key(world):
    world.schedd.lose_reply = 1
    world.send(submit_action(1, count=5))
    world.drain(world.bridge())
    counts = world.accounting()
    report("schedd reply lost after commit", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    (result,) = world.results.results
    assert result.status == "already_done" and result.jobs == 5


def test_schedd_down_for_good_after_a_lost_reply_reports_unknown_not_failed(world):
    # the submit committed, the reply was lost, then the schedd stays unreachable: the bridge cannot know
    world.schedd.lose_reply = 1
    world.send(submit_action(1, count=2))
    bridge = world.bridge()
    bridge.run_once()
    world.schedd.down = True
    world.drain(bridge)
    (result,) = world.results.results
    assert result.status == "unknown" and "outcome unknown" in result.detail
    world.schedd.down = False
    counts = (
        world.accounting()
    )  # the jobs exist once: not lost, not doubled (the planner waits for a snapshot)
    report("schedd down after a lost reply", counts)
    assert counts == {"lost": 0, "duplicated": 0}


def test_collector_down_for_a_while(world):
    # Given the factory collector down while advertise and submit actions arrive
    world.collector.down = True
    world.send(advertise_action(1, ["e1@g@f@fe.main"]), submit_action(2, count=2))
    bridge = world.bridge()
    bridge.run_once()
    bridge.run_once()
    # Then submissions go on, the advertisement waits (retried with backoff), the snapshot of the collector failed
    assert world.schedd.count() == 2
    assert world.collector.names("glideclient") == []
    assert bridge.metrics.counters["snapshot_failures"] >= 1
    # When the collector comes back
    world.collector.down = False
    world.visible_again()
    world.drain(bridge)
    # Then the ad is advertised once, and nothing was lost or doubled
    counts = world.accounting()
    report("collector down", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert world.collector.names("glideclient") == ["e1@g@f@fe.main"]
    assert {r.kind: r.status for r in world.results.results} == {"advertise": "done", "submit": "done"}


def test_collector_down_too_long_is_dead_lettered_with_the_reason(world):
    world.collector.down = True
    world.send(advertise_action(1, ["e1@g@f@fe.main"]))
    world.drain(world.bridge())
    (dead,) = world.dead_letters()
    assert (
        "Failed to advertise to collector" in dead["reason"] and dead["key"] == advertise_action(1, ["x"]).key
    )
    assert world.results.results[0].status == "failed"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "message body is not JSON"),
        ('{"schema_version": 9, "kind": "submit"}', "unsupported action schema_version 9"),
        (
            '{"kind": "submit", "key": "de-0123456789abcdef", "channel": "direct", "schedd": "pilots"}',
            "count: Field required",
        ),
        (
            '{"kind": "remove", "key": "de-0123456789abcdef", "channel": "direct", "schedd": "pilots", "constraint": "a >"}',
            "is not a valid ClassAd expression",
        ),
        (
            '{"kind": "launch_missiles", "key": "de-0123456789abcdef", "channel": "direct"}',
            "does not match any of the expected tags",
        ),
    ],
)
def test_malformed_action_is_dead_lettered_with_its_reason(world, body, reason):
    # Given a malformed message between two good ones
    world.send(submit_action(1))
    world.send_raw(body)
    world.send(submit_action(2))
    world.drain(world.bridge())
    # Then it is dead-lettered with the reason, and the others were carried out
    (dead,) = world.dead_letters()
    assert reason in dead["reason"] and dead["original_body"] == body
    counts = world.accounting()
    report("malformed action", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert world.schedd.submit_calls == 2


class Outage:
    """An SQS client whose calls fail (as when the network or SQS is down) while ``down`` is set."""

    def __init__(self, client) -> None:
        self._client = client
        self.down = False
        self.failed_calls = 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.down:
                self.failed_calls += 1
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url="https://sqs.us-east-1.amazonaws.com"
                )
            return attr(*args, **kwargs)

        return call


def test_sqs_unavailable_for_a_while(world):
    # Given actions waiting and SQS unreachable from the bridge
    world.send(*[submit_action(n) for n in range(1, 6)])
    flaky = Outage(world.sqs)
    bridge = world.bridge(sqs_client=flaky)
    flaky.down = True
    delays = [bridge.run_once() for _ in range(6)]
    # Then the bridge backs off, boundedly, and reports itself degraded
    assert delays == sorted(delays) and 0 < delays[0] and max(delays) <= world.config.retry.poll_max_delay
    assert bridge.health.document()["sqs_ok"] is False and bridge.metrics.counters["sqs_errors"] == 6
    assert world.schedd.submit_calls == 0
    # When SQS is back
    flaky.down = False
    world.drain(bridge)
    counts = world.accounting()
    report("SQS unavailable", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert bridge.poll_backoff.failures == 0 and bridge.health.document()["sqs_ok"] is True


def test_sqs_lost_right_after_a_submit_the_redelivery_is_absorbed(world):
    # SQS goes away after the submit and before the delete: the message comes back later
    world.send(submit_action(1, count=3))
    flaky = Outage(world.sqs)
    bridge = world.bridge(sqs_client=flaky)
    original = world.schedd.submit

    def submit_then_outage(*args, **kwargs):
        out = original(*args, **kwargs)
        flaky.down = True
        return out

    world.schedd.submit = submit_then_outage
    bridge.run_once()
    assert flaky.failed_calls >= 1  # the delete failed
    flaky.down = False
    world.visible_again()
    world.drain(bridge)
    counts = world.accounting()
    report("SQS lost after submit", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert world.schedd.submit_calls == 1 and bridge.metrics.counters["duplicates_absorbed"] == 1


def test_results_sink_down_keeps_results_and_reports_them_later(world):
    world.results.fail = True
    world.send(submit_action(1))
    bridge = world.bridge()
    bridge.run_once()
    assert world.results.results == [] and bridge.ledger.counts()["unreported"] == 1
    world.results.fail = False
    world.visible_again()
    world.drain(bridge)
    assert [r.status for r in world.results.results] == ["done"]
    assert world.schedd.submit_calls == 1 and bridge.ledger.counts()["unreported"] == 0


@pytest.mark.slow
def test_chaos_random_kills_duplicates_refusals_and_lost_replies(world):
    """Many actions under every fault at random, seeded: nothing lost, nothing doubled."""
    rng = random.Random(20261125)
    actions = [submit_action(n, count=rng.randint(1, 4)) for n in range(1, 41)]
    for a in actions:
        world.send(a)
        if rng.random() < 0.3:
            world.send(a)  # duplicate delivery
    world.schedd.refuse = 3
    world.schedd.lose_reply = 4
    kills = 0
    for _ in range(200):
        bridge = world.bridge()
        point = rng.choice(
            [
                (world.schedd, "submit"),
                (bridge.ledger, "finish"),
                (bridge.ledger, "mark_tried"),
                (world.results, "report"),
                (bridge.ledger, "begin"),
                None,
            ]
        )
        saved = getattr(*point) if point else None
        if point:
            kill_after(*point)
        try:
            world.drain(bridge, rounds=rng.randint(1, 3))
            break
        except Killed:
            kills += 1
        except AssertionError:
            pass  # not drained within the rounds given: restart anyway
        finally:
            if point:
                setattr(point[0], point[1], saved)
            bridge.ledger.close()
        world.visible_again()
        if rng.random() < 0.2:
            world.schedd.set_status("JobStatus == 1", RUNNING, limit=3)
    counts = world.accounting()
    report(f"chaos ({kills} kills)", counts)
    assert kills > 5
    assert counts == {"lost": 0, "duplicated": 0}
    assert {r.key for r in world.results.results} == {a.key for a in actions}
    assert idempotency_key("direct", 1, "fermigrid") == actions[0].key


def test_lost_ledger_and_pilots_finished_before_redelivery_never_resubmits(world):
    # Given a bridge killed right after the schedd committed a submit (the message not yet deleted)
    world.send(submit_action(1, count=3))
    first = world.bridge()
    kill_after(world.schedd, "submit")
    with pytest.raises(Killed):
        first.run_once()
    first.ledger.close()
    # and the ledger disk is lost, and the pilots ran and left the queue for the history
    (world.tmp / "ledger.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (world.tmp / f"ledger.sqlite{extra}").unlink(missing_ok=True)
    assert world.schedd.set_status("true", COMPLETED) == 3
    assert world.schedd.query("true", ["ClusterId"]) == []
    # When the message is delivered again to a restarted bridge with an empty ledger
    world.visible_again()
    restarted = world.bridge()
    world.drain(restarted)
    # Then nothing is submitted again: the history holds the key
    counts = world.accounting()
    report("lost ledger, pilots finished before redelivery", counts)
    assert counts == {"lost": 0, "duplicated": 0}
    assert world.results.by_key()[submit_action(1).key].status == "already_done"
