"""``de simulate``: the HTC pilot channel's real decision code, cycle after cycle, against a simulated pool.

* :mod:`.scenario` — the scenario file (TOML): entries, job streams, pilot behaviour, outages;
* :mod:`.pool` — the simulated HTCondor pool and GlideinWMS factory (pilots submitted → queued →
  registered idle → running jobs → gone; entries that hold or lose their pilots; the negotiator);
* :mod:`.decide` — the channel's transforms, logic engine and glideclient publisher (dry run), as
  loaded from the channel file, fed the pool's ads as the sources' products;
* :mod:`.run` — the loop and the metrics (``pilots_wasted``, ``idle_pilot_hours`` ...).

The CLI (:mod:`hepde_tools.cli.simulate_cmd`) renders the figures and the plot.
"""
