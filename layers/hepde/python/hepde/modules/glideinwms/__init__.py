"""GlideinWMS pressure-based provisioning: factory sources, job clustering, figures of merit,
glidein requests and the glideclient/glideclientglobal publishers (seed-system §4.3)."""
