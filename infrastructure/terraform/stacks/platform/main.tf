data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "${var.name_prefix}-${var.environment}"

  # Bucket names are global: the account ID makes them unique, as the state bucket's
  # (<prefix>-<env>-tfstate-<account>). Known at plan time, so the flow-run role's storage
  # statements can be planned before the buckets exist.
  code_bucket_name    = "${local.name}-code-${data.aws_caller_identity.current.account_id}"
  results_bucket_name = "${local.name}-results-${data.aws_caller_identity.current.account_id}"
  s3_arn_prefix       = "arn:${data.aws_partition.current.partition}:s3:::"
}

module "network" {
  source = "../../modules/network"

  name     = local.name
  vpc_cidr = var.vpc_cidr
  az_count = var.az_count
  nat_mode = var.nat_mode

  enable_flow_logs          = var.enable_flow_logs
  flow_logs_retention_days  = var.log_retention_days
  permissions_boundary_arn  = var.permissions_boundary_arn
  worker_extra_egress_rules = var.worker_extra_egress_rules
}

module "logs" {
  source = "../../modules/logs"

  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = "${var.name_prefix}/${var.environment}/prefect-api-key"
  recovery_window_in_days = var.secret_recovery_window_days
}

module "ecr" {
  source = "../../modules/ecr"

  name         = "${local.name}-worker"
  force_delete = var.ecr_force_delete
}

module "cluster" {
  source = "../../modules/cluster"

  name = "${local.name}-cluster"
}

module "observer" {
  source = "../../modules/observer"

  queue_name  = "${local.name}-ecs-task-events"
  cluster_arn = module.cluster.cluster_arn
}

module "storage" {
  source = "../../modules/storage"

  code_bucket_name                   = local.code_bucket_name
  results_bucket_name                = local.results_bucket_name
  noncurrent_version_expiration_days = var.storage_noncurrent_version_expiration_days
}

module "iam" {
  source = "../../modules/iam"

  name               = local.name
  cluster_arn        = module.cluster.cluster_arn
  log_group_arn      = module.logs.log_group_arn
  secret_arn         = module.secrets.secret_arn
  observer_queue_arn = module.observer.queue_arn
  code_bucket_arn    = "${local.s3_arn_prefix}${local.code_bucket_name}"
  results_bucket_arn = "${local.s3_arn_prefix}${local.results_bucket_name}"

  permissions_boundary_arn = var.permissions_boundary_arn
}

# Optional: the identity a GitHub workflow assumes to push flow images and code (modules/ci).
# Its rules on repository and branch are the module's; the settings check them too.
module "ci" {
  source = "../../modules/ci"
  count  = var.ci_github_repository == null ? 0 : 1

  name               = "${local.name}-ci"
  github_repository  = var.ci_github_repository
  github_branch      = var.ci_github_branch
  oidc_provider_arn  = var.ci_oidc_provider_arn
  ecr_repository_arn = module.ecr.repository_arn
  code_bucket_arn    = module.storage.code_bucket_arn

  github_environment          = var.ci_github_environment
  promote_from_repository_arn = var.ci_promote_from_repository_arn

  permissions_boundary_arn = var.permissions_boundary_arn
}
