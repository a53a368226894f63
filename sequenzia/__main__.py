"""`python -m sequenzia`: the same as the `sequenzia` console script."""

from sequenzia.cli.main import main

raise SystemExit(main())
