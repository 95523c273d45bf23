"""``python -m runhook``: the same as the ``runhook`` command."""

from runhook.cli import main

raise SystemExit(main())
