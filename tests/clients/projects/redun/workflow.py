"""A redun workflow whose tasks run on AWS Batch: five `square` calls submitted together become one array
job (redun's JobArrayer groups at least min_array_size alike jobs), `describe` runs as a single job, and
`total` runs locally. `redun run workflow.py main` prints the result."""

from redun import task

redun_namespace = "batchemu_clients"


@task(executor="batch")
def square(n: int) -> int:
    print(f"squaring {n} on AWS Batch")
    return n * n


@task(executor="batch")
def describe(values: list[int]) -> str:
    print("describing", values)
    return "squares " + " ".join(str(v) for v in values)


@task()
def total(values: list[int], description: str) -> str:
    return f"{description}; total {sum(values)}"


@task()
def main(n: int = 5) -> str:
    values = [square(i) for i in range(1, n + 1)]
    return total(values, describe(values))
