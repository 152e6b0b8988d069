"""The deploy: the SAM template generated from channel configs, its cost model, and the local cloud.

``template.yaml`` is written by :func:`hepde_tools.deploy.template.generate` (``de deploy generate``) and
never edited by hand.  The template is assembled by *parts*: modules listed in
:data:`hepde_tools.deploy.template.PARTS`, each with ``contribute(ctx, template)``.  A listed module that is
not installed is skipped, so a part can be added (e.g. ``hepde_tools.deploy.api_part`` for the REST API)
without touching the generator.
"""
