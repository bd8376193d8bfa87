"""The embedded default: everything the product talks to, on this machine.

moto as AWS (`target`, registered as the `emulator` target), a registry standing in for ECR's
(`registry`), a Prefect server with a process worker (`stack`), and the local ECS runtime that
does what Fargate would (`ecs_runtime`). The product (`bootstrap_flows` outside this package)
never imports anything from here; an import-linter contract enforces it.
"""
