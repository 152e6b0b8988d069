"""Deterministic synthetic HTCondor/GlideinWMS workloads (``de synth``) and fixture readers."""
