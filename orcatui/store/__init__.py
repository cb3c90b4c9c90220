"""Finding status and log tables under a root and reading them incrementally: no Textual here."""
