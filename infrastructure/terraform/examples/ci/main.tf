# CI for a repository of flows: the worker's ECR repository (from the ecr module) and the ci
# module's GitHub Actions OIDC provider and role, which may push flow images there and flow
# code to the code bucket. The tests apply it on the embedded default, re-plan, read the
# policies back and destroy it.
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

data "aws_partition" "current" {}

module "ecr" {
  source = "../../modules/ecr"

  name = "example-ci-worker"
  # An example is thrown away whole.
  force_delete = true
}

module "ci" {
  source = "../../modules/ci"

  name               = "example-ci-github"
  github_repository  = var.github_repository
  github_branch      = var.github_branch
  ecr_repository_arn = module.ecr.repository_arn
  # The platform's code bucket (made by the storage module), named here: the role only
  # needs its ARN.
  code_bucket_arn   = "arn:${data.aws_partition.current.partition}:s3:::${var.code_bucket_name}"
  oidc_provider_arn = var.oidc_provider_arn

  permissions_boundary_arn = var.permissions_boundary_arn
}
