"""The operator tools: the ``de`` CLI (:mod:`hepde_tools.cli`), the SAM template generator and cost model
(:mod:`hepde_tools.deploy`), the embedded local AWS (:mod:`hepde_tools.local`), benchmarks
(:mod:`hepde_tools.bench`), the synthetic CMS-pool workload (:mod:`hepde_tools.synth`), decision replay
(:mod:`hepde_tools.replay`) and the local server of the operations API (:mod:`hepde_tools.api_server`).

They import the runtime library :mod:`hepde`; the library never imports them, and they are not in the
Lambda layer.  All text and table rendering lives in :mod:`hepde_tools.cli`.
"""
