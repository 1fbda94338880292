"""`python -m batchemu` runs the command line interface."""

from batchemu.cli import main

raise SystemExit(main())
