"""``python -m twophase.book``: execute the notebooks and build the HTML book."""

from twophase.book.cli import main

raise SystemExit(main())
