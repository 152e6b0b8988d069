"""HTCondor sources (job queue, slots) behind a small query interface: real bindings or snapshots."""
