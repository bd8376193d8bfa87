variable "region" {
  description = "AWS region to deploy the example into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1 or eu-central-1."
  }
}

# The GitHub inputs are checked by the ci module (one copy of those rules).
variable "github_repository" {
  description = "The GitHub repository, \"<owner>/<repo>\", whose workflows may assume the CI role."
  type        = string
  default     = "acme/flows"
}

variable "github_branch" {
  description = "The branch of that repository whose workflow runs may assume the CI role."
  type        = string
  default     = "main"
}

variable "code_bucket_name" {
  description = "Name of the existing S3 bucket that holds flow code (the storage module's code bucket)."
  type        = string
  default     = "example-ci-flow-code"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.code_bucket_name))
    error_message = "code_bucket_name must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the account's GitHub Actions OIDC provider if it already has one; null creates it."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "IAM managed policy set as the CI role's permissions boundary (accounts whose SCPs require one); null: none. Checked by the ci module."
  type        = string
  default     = null
}
