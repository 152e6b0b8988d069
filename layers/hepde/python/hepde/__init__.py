"""hepde — the shared library of the serverless HEPCloud Decision Engine.

Everything with logic lives here; Lambda handlers (``functions/``), the ``de`` CLI and the on-prem
bridge are thin wiring over it.
"""

__version__ = "0.2.0"
