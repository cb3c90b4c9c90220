"""``python -m orcatui``: same as the ``orcatui`` console script."""

from orcatui.cli import main

raise SystemExit(main())
