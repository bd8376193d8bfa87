variable "environment" {
  description = "Environment name (e.g. local, dev, prod): lowercase letters, digits and dashes, 2-16 characters, starting with a letter and not ending with a dash (the setting's rule)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.environment))
    error_message = "environment must be 2-16 characters of lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "region" {
  description = "AWS region to deploy into (e.g. us-east-1)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1 or eu-central-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (\"<name_prefix>-<environment>-...\"): lowercase letters, digits and dashes, 2-20 characters, starting with a letter and not ending with a dash (the setting's rule; the settings also check every name made from it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters of lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC, prefix length /16 to /24."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR block with a prefix length between /16 and /24."
  }
}

variable "az_count" {
  description = "Number of availability zones (1-6) for public and private subnets."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be an integer between 1 and 6."
  }
}

variable "nat_mode" {
  description = "NAT gateway layout: \"single\", \"per_az\" or \"none\" (workers then need public subnets with assignPublicIp)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_mode)
    error_message = "nat_mode must be one of \"single\", \"per_az\" or \"none\"."
  }
}

variable "enable_flow_logs" {
  description = "Ship VPC flow logs (ALL traffic) to a CloudWatch log group named /vpc/<prefix>-<env>/flow-logs."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention in days of the worker/flow-run log group (a value CloudWatch Logs accepts)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "ecr_force_delete" {
  description = "Allow destroying the ECR repository while it still holds images (true only for ephemeral environments)."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Prefect API key secret after destroy: 0 (delete immediately, ephemeral environments) or 7-30."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30 && floor(var.secret_recovery_window_days) == var.secret_recovery_window_days)
    error_message = "secret_recovery_window_days must be 0 or an integer between 7 and 30."
  }
}
variable "storage_noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted version in the flow-code and flow-results buckets is kept before S3 expires it."
  type        = number
  default     = 30

  validation {
    condition     = var.storage_noncurrent_version_expiration_days >= 1 && var.storage_noncurrent_version_expiration_days <= 3650 && floor(var.storage_noncurrent_version_expiration_days) == var.storage_noncurrent_version_expiration_days
    error_message = "storage_noncurrent_version_expiration_days must be an integer between 1 and 3650."
  }
}

variable "ci_github_repository" {
  description = "GitHub repository (\"<owner>/<repo>\") whose workflows may push flow images and code through the ci module's role. Null: no CI role, no OIDC provider."
  type        = string
  default     = null
}

variable "ci_github_branch" {
  description = "The one branch of ci_github_repository whose workflows may assume the CI role."
  type        = string
  default     = "main"
  nullable    = false
}

variable "ci_github_environment" {
  description = "The GitHub environment (e.g. \"production\") whose jobs may assume the CI role instead of pushes to ci_github_branch. Null: the branch."
  type        = string
  default     = null
}

variable "ci_promote_from_repository_arn" {
  description = "ARN of the ECR repository the CI role may also pull from, read only (staging's, for a production role that promotes what passed there). Null: none."
  type        = string
  default     = null
}

variable "ci_oidc_provider_arn" {
  description = "ARN of the account's existing GitHub Actions OIDC provider (one per account). Null: the ci module creates it."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags applied to every resource through provider default_tags. Project, Environment, ManagedBy and Stack are always set and cannot be overridden."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1-128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary of every role the stack creates (iam, network flow logs, ci): accounts whose SCPs require one on every role."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}

variable "worker_extra_egress_rules" {
  description = "TCP egress rules the worker security group gets besides HTTPS, HTTP and DNS: bootstrap passes one for the Prefect API URL's port when that is not 443 or 80 (a self-hosted server on 4200)."
  type = list(object({
    description = string
    port        = number
    cidr_blocks = list(string)
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for r in var.worker_extra_egress_rules : r.port >= 1 && r.port <= 65535 && floor(r.port) == r.port && length(r.cidr_blocks) > 0 && alltrue([for c in r.cidr_blocks : can(cidrhost(c, 0))])])
    error_message = "Every extra egress rule needs an integer port between 1 and 65535 and at least one valid IPv4 CIDR block."
  }
}
