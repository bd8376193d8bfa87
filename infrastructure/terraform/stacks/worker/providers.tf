locals {
  # Emulator switch (moto / LocalStack). When aws_endpoint_url is null every
  # setting below resolves to null/false and the provider behaves as stock.
  use_emulator = var.aws_endpoint_url != null

  emulated_services = [
    "applicationautoscaling",
    "cloudwatch",
    "ec2",
    "ecr",
    "ecs",
    "events",
    "iam",
    "kms",
    "logs",
    "s3",
    "secretsmanager",
    "sqs",
    "sts",
  ]
}

provider "aws" {
  region = var.region

  skip_credentials_validation = local.use_emulator
  skip_requesting_account_id  = local.use_emulator
  skip_region_validation      = local.use_emulator
  skip_metadata_api_check     = local.use_emulator ? "true" : null
  s3_use_path_style           = local.use_emulator
  # Emulators do not implement every API (e.g. moto and application
  # autoscaling); fail fast instead of retrying 25 times.
  max_retries = local.use_emulator ? 2 : null

  dynamic "endpoints" {
    for_each = local.use_emulator ? [var.aws_endpoint_url] : []
    content {
      applicationautoscaling = endpoints.value
      cloudwatch             = endpoints.value
      ec2                    = endpoints.value
      ecr                    = endpoints.value
      ecs                    = endpoints.value
      events                 = endpoints.value
      iam                    = endpoints.value
      kms                    = endpoints.value
      logs                   = endpoints.value
      s3                     = endpoints.value
      secretsmanager         = endpoints.value
      sqs                    = endpoints.value
      sts                    = endpoints.value
    }
  }

  default_tags {
    tags = merge(var.tags, {
      Project     = "bootstrap-flows"
      Environment = var.environment
      ManagedBy   = "terraform"
      Stack       = "worker"
    })
  }
}
