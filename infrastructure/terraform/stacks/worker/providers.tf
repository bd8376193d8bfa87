# The stock AWS provider: region and default tags, nothing else. An emulator is reached the
# way every AWS SDK reaches one: AWS_ENDPOINT_URL (and credentials) in the environment, which
# bootstrap sets from its target (bootstrap_flows/config/target.py), so no emulator switch
# lives here.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "bootstrap-flows"
      Environment = var.environment
      ManagedBy   = "terraform"
      Stack       = "worker"
    })
  }
}
