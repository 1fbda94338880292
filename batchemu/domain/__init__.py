"""Plain-Python AWS Batch: resources, jobs, the job state table and AWS's rules. No HTTP, no camelCase."""
