"""Reads a finished run back through Metaflow's client API: prints its artifacts as one JSON line."""

import json
import sys

from metaflow import Run, namespace

namespace(None)
run = Run(f"FanOutFlow/{sys.argv[1]}")
print(
    json.dumps(
        {
            "successful": run.successful,
            "total": run.data.total,
            "squared": sorted(task.data.squared for task in run["square"]),
        }
    )
)
