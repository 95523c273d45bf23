"""``python -m handlers.cli``: the same as the ``runhook`` command."""

from handlers.cli import main

raise SystemExit(main())
