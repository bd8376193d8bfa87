# A production-shaped platform from the modules: a NAT gateway per AZ (no cross-AZ single point
# of failure), VPC flow logs kept a year, 90-day application logs, and images and secrets protected from
# accidental deletion. bootstrap's `platform` stack composes the same modules from settings.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "bootstrap-flows"
      Environment = "prod"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name = "example-prod"
}

module "network" {
  source = "../../modules/network"

  name     = local.name
  vpc_cidr = "10.30.0.0/16"
  az_count = 3
  nat_mode = "per_az"

  enable_flow_logs         = true
  flow_logs_retention_days = 365
}

module "logs" {
  source = "../../modules/logs"

  name              = "/ecs/${local.name}"
  retention_in_days = 90
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = "${local.name}/prefect-api-key"
  recovery_window_in_days = 30
}

module "ecr" {
  source = "../../modules/ecr"

  name         = "${local.name}-worker"
  force_delete = false
}

module "cluster" {
  source = "../../modules/cluster"

  name = "${local.name}-cluster"
}
