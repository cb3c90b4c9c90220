"""orcatui: a terminal monitor for data-pipeline runs.

The package is layered: :mod:`orcatui.store` finds and reads status tables, :mod:`orcatui.model`
holds the rules (packet state, liveness, LOST, naming, views), and :mod:`orcatui.app` renders them
with Textual. Only the app imports Textual.
"""

__version__ = "0.1.0"
