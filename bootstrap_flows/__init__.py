"""bootstrap-flows: stand up a Prefect worker on AWS ECS Fargate with Prefect flows and Terraform."""

__version__ = "0.1.0"
