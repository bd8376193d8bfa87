"""A flow of your own, deployed to the ECS pool that bootstrap made.

Its code goes to the environment's code bucket (`prefect deploy` runs the push step in
prefect.yaml) and each run's ECS task pulls it from there, so it may use only what the worker
image has (Prefect, prefect-aws, boto3). Its return value lands in the results bucket with
nothing here asking for it: the pool's defaults persist every run's result there.
"""

from __future__ import annotations

from prefect import flow, task


@task
def square(number: int) -> int:
    return number * number


@task
def total(squares: list[int]) -> int:
    return sum(squares)


@flow(name="own-flow", log_prints=True)
def own_flow(numbers: list[int] | None = None) -> dict[str, object]:
    numbers = numbers if numbers is not None else [1, 2, 3, 4]
    squares = [future.result() for future in square.map(numbers)]
    result = {"numbers": numbers, "squares": squares, "total": total(squares)}
    print(f"sum of squares of {numbers}: {result['total']}")
    return result
