"""A corrupt ledger is a clear one-line error (issue 13): `LedgerError` is a `DEError`."""

from __future__ import annotations

import sqlite3

import pytest
from bridge_harness import PILOT

from hepde.errors import DEError
from hepde_bridge.ledger import Ledger, LedgerError
from hepde_bridge.main import main as bridge_main


def _config(tmp_path, ledger):
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'bridge = "site"\nbucket = "products"\nresults = ["queue"]\n'
        f'results_queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/r"\n'
        f'ledger = "{ledger}"\nhealth_file = "{tmp_path / "health.json"}"\n'
        f'[schedds.pilots]\nexecutables = ["{PILOT}"]\n'
    )
    return config


def test_ledger_error_is_a_de_error():
    assert issubclass(LedgerError, DEError)


def test_de_bridge_ledger_on_a_file_that_is_not_a_database_prints_one_line(tmp_path, capsys):
    # Given a ledger file overwritten with garbage (a disk or operator accident)
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes(b"this is not an SQLite database\n" * 200)
    # When the operator looks at it
    rc = bridge_main(["ledger", "--config", str(_config(tmp_path, ledger))])
    # Then one line names the file and the problem; no traceback, non-zero exit
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1 and str(ledger) in err[0] and "Traceback" not in err[0]
    assert "not a database" in err[0]


def test_de_bridge_ledger_with_a_corrupt_row_prints_one_line(tmp_path, capsys):
    # Given a ledger whose stored result is not a result any more
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO actions(key, kind, digest, state, attempts, first_seen, updated_at, result, reported, tried)"
            " VALUES ('k1', 'submit', 'd', 'done', 1, 0, 0, '{\"not\": \"a result\"}', 0, 1)"
        )
    # When the operator lists it
    rc = bridge_main(["ledger", "--config", str(_config(tmp_path, path))])
    err = capsys.readouterr().err.strip().splitlines()
    # Then: one line naming the file and the entry, non-zero exit
    assert rc != 0
    assert len(err) == 1 and str(path) in err[0] and "'k1'" in err[0]
    with pytest.raises(LedgerError, match="corrupt entry"):
        Ledger(path).get("k1")
