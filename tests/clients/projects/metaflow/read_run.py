"""Reads a finished run back through Metaflow's client API: prints its artifacts, and what the start task
recorded about where it ran (from the ECS task environment and metadata endpoint), as one JSON line."""

import json
import sys

from metaflow import Run, namespace

namespace(None)
run = Run(f"FanOutFlow/{sys.argv[1]}")
where = run["start"].task.metadata_dict
print(
    json.dumps(
        {
            "successful": run.successful,
            "total": run.data.total,
            "squared": sorted(task.data.squared for task in run["square"]),
            "execution_env": where.get("aws-batch-execution-env"),
            "awslogs_group": where.get("aws-batch-awslogs-group"),
        }
    )
)
