"""Luigi tasks run on AWS Batch through luigi.contrib.batch.BatchTask, as its documentation shows: a
pre-registered job definition, the task's parameters as the job's parameters, and the first ENABLED/VALID
queue unless one is named. Run with `luigi --module batch_tasks Squares --local-scheduler`."""

import json
import time

import luigi
from luigi.contrib.batch import BatchJobException, BatchTask


class Square(BatchTask):
    """Squares n in a job (job definition `luigi-square`) that writes the result to S3."""

    n = luigi.IntParameter()
    job_definition = "luigi-square"

    @property
    def parameters(self):
        return {"n": str(self.n)}

    def output(self):
        return luigi.LocalTarget(f"square-{self.n}.done")

    def run(self):
        started = time.monotonic()
        super().run()  # submits, then polls DescribeJobs until SUCCEEDED (raises on FAILED)
        with open("timings.jsonl", "a") as timings:
            timings.write(json.dumps({"n": self.n, "seconds": time.monotonic() - started}) + "\n")
        with self.output().open("w") as done:
            done.write("ok")


class Squares(luigi.WrapperTask):
    def requires(self):
        return [Square(n=n, poll_time=1) for n in (1, 2, 3)]


class Failing(BatchTask):
    """A job that prints a line and exits 3: Luigi reads its CloudWatch log stream into the exception."""

    job_definition = "luigi-failing"

    def output(self):
        return luigi.LocalTarget("failing.seen")

    def run(self):
        try:
            super().run()
        except BatchJobException as error:
            with self.output().open("w") as seen:
                seen.write(str(error))
        else:
            raise AssertionError("the failing job did not fail")
