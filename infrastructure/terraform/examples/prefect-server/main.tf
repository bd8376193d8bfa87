# A Prefect server of your own, end to end: network, cluster and logs from the modules, a
# Route 53 zone for the server's name, and the prefect_server module with an ACM certificate
# it issues and validates in that zone. The tests apply it on moto, re-plan and destroy it.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "bootstrap-flows"
      Environment = "example"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name = "example-server"
}

module "network" {
  source = "../../modules/network"

  name     = local.name
  vpc_cidr = "10.40.0.0/16"
  az_count = 2
  nat_mode = "single"
}

module "cluster" {
  source = "../../modules/cluster"

  name = "${local.name}-cluster"
}

module "logs" {
  source = "../../modules/logs"

  name              = "/ecs/${local.name}"
  retention_in_days = 30
}

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing needs a KMS key in us-east-1 and a registrar change; out of scope for an example zone.
  #checkov:skip=CKV2_AWS_39:Query logging needs a log group in us-east-1 with a resource policy; out of scope for an example zone.
  name = join(".", slice(split(".", var.domain_name), 1, length(split(".", var.domain_name))))
}

module "server" {
  source = "../../modules/prefect_server"

  name               = local.name
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  cluster_arn        = module.cluster.cluster_arn
  log_group_name     = module.logs.log_group_name
  image_uri          = var.image_uri

  allowed_cidrs   = [module.network.vpc_cidr]
  domain_name     = var.domain_name
  route53_zone_id = aws_route53_zone.this.zone_id

  # An example is thrown away whole.
  db_final_snapshot           = false
  db_deletion_protection      = false
  secret_recovery_window_days = 0
}
