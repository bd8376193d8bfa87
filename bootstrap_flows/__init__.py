"""bootstrap-flows: stand up a Prefect worker on AWS ECS Fargate with Prefect and Terraform."""

__version__ = "0.1.0"
