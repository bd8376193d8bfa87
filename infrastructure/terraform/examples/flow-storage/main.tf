# Flow code and results buckets on their own, as the platform stack makes them: private,
# encrypted, versioned, TLS-only, noncurrent versions kept a week. Names carry the account ID,
# as bucket names are global.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "bootstrap-flows"
      Environment = "dev"
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

module "storage" {
  source = "../../modules/storage"

  code_bucket_name                   = "${var.name}-code-${data.aws_caller_identity.current.account_id}"
  results_bucket_name                = "${var.name}-results-${data.aws_caller_identity.current.account_id}"
  noncurrent_version_expiration_days = 7
}
