"""A Metaflow flow with a foreach and artifacts, run on AWS Batch by `python fanout.py run --with batch`:
start fans out over three numbers, each square step squares its number (an artifact), the join sums them."""

from metaflow import FlowSpec, step


class FanOutFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        self.squared = self.input * self.input
        print(f"squared {self.input} to {self.squared}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.squared for task in inputs)
        print(f"total of squares {self.total}")
        self.next(self.end)

    @step
    def end(self):
        print(f"done with total {self.total}")


if __name__ == "__main__":
    FanOutFlow()
