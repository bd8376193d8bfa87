# A development network: two AZs and one shared NAT gateway, to save cost.
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

module "network" {
  source = "../../modules/network"

  name     = "example-dev"
  vpc_cidr = "10.20.0.0/16"
  az_count = 2
  nat_mode = "single"
}
