"""The same work as flow.py, shown as a table: a flow that needs a package the worker image
lacks (`tabulate`, requirements.txt). Such a flow runs in an image built FROM the worker image
with its requirements installed (Dockerfile), pushed to the environment's ECR repository and
named as the deployment's `image` (prefect.yaml, deployment `image`).
"""

from __future__ import annotations

from flow import square, total
from prefect import flow
from tabulate import tabulate


@flow(name="own-flow-report", log_prints=True)
def own_flow_report(numbers: list[int] | None = None) -> dict[str, object]:
    numbers = numbers if numbers is not None else [1, 2, 3, 4]
    squares = [future.result() for future in square.map(numbers)]
    table = tabulate(zip(numbers, squares, strict=True), headers=["n", "n²"], tablefmt="github")
    print(table)
    return {"table": table, "total": total(squares)}
