variable "name_prefix" {
  description = "The environment's name prefix (setting name_prefix, e.g. \"prefect\"): every resource name starts with <name_prefix>-<environment>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-20 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (as the setting)."
  }
}

variable "environment" {
  description = "The environment's name (e.g. \"dev\"), as in environments/<name>.env."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (as the setting)."
  }
}

variable "account_id" {
  description = "The AWS account the environment lives in (12 digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "The AWS region the environment lives in (setting aws_region, e.g. \"eu-west-1\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "partition" {
  description = "The AWS partition of the account (\"aws\"; \"aws-cn\" in China, \"aws-us-gov\" in GovCloud): every ARN of the policy starts with arn:<partition>:."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"], var.partition)
    error_message = "partition must be an AWS partition: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f or aws-eusc."
  }
}

variable "state_bucket" {
  description = "The Terraform state bucket (setting state_bucket). Null: bootstrap's default, <name_prefix>-<environment>-tfstate-<account_id>."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be null or a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "create_policy" {
  description = "Also create the policy as IAM customer managed policies, one per part (output policy_arns); false: only render its JSON (outputs policy_json, policy_parts_json) for your admins."
  type        = bool
  default     = false
}

variable "policy_name" {
  description = "Name of the managed policies when create_policy is true, followed by -1, -2, ... per part. Null: <name_prefix>-<environment>-operator."
  type        = string
  default     = null

  validation {
    condition     = var.policy_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,125}$", var.policy_name))
    error_message = "policy_name must be null or 1-125 characters of letters, digits and +=,.@_- (IAM's 128 less the part's -N suffix)."
  }
}

variable "policy_path" {
  description = "IAM path of the managed policies when create_policy is true."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7e]+/)?$", var.policy_path))
    error_message = "policy_path must start and end with \"/\"."
  }
}
