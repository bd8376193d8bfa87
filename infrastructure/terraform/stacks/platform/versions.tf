terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exactly the provider these stacks are tested with (the modules accept a range). No lock
      # file is committed: see the README, "Terraform provider versions and lock files".
      version = "5.100.0"
    }
  }

  # Partial configuration: bucket, key, region, use_lockfile (and, for an
  # emulator, endpoints/path-style/skip_* settings) are passed with
  # -backend-config at `terraform init` by the bootstrap flow.
  backend "s3" {}
}
