terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.72: the *_exclusive role resources; 5.81: an OIDC provider without thumbprint_list.
      version = ">= 5.81, < 6.0"
    }
  }
}
