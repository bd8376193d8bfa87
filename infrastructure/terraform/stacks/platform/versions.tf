terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.72, < 6.0"
    }
  }

  # Partial configuration: bucket, key, region, use_lockfile (and, for an
  # emulator, endpoints/path-style/skip_* settings) are passed with
  # -backend-config at `terraform init` by the bootstrap flow.
  backend "s3" {}
}
