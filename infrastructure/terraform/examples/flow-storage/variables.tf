variable "region" {
  description = "AWS region to deploy the example into."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1 or eu-central-1."
  }
}

variable "name" {
  description = "Prefix of the bucket names (\"<name>-code-<account>\", \"<name>-results-<account>\"): lowercase letters, digits and dashes."
  type        = string
  default     = "example-dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,37}$", var.name))
    error_message = "name must be 2-38 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}
