"""The on-prem condor bridge (``de-bridge``): carries decisions down to HTCondor and facts back up.

* :mod:`hepde.condor.adapter` — the small HTCondor interface (schedd, collector) and its
  ``htcondor2``/``classad2`` implementation;
* :mod:`hepde.condor.fakes` — a faithful in-memory schedd and collector (tests, demos);
* :mod:`hepde_bridge.ledger` — the durable SQLite ledger of idempotency keys;
* :mod:`hepde.bridge_queue` — the SQS adapter (actions queue, dead-letter queue, reply queue);
* :mod:`hepde_bridge.results` — where action results go (DataBlock records, reply queue);
* :mod:`hepde_bridge.snapshots` — scheduled snapshots of schedds and collectors (``hepde.snapshots``);
* :mod:`hepde_bridge.service` — the long-lived service loop; :mod:`hepde_bridge.main` — the CLI.

Installed with the ``bridge`` extra (``pip install 'hepde-serverless[bridge]'``), which adds the
``htcondor`` wheel.  See ``docs/bridge.md``.
"""
