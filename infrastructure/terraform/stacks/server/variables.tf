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

variable "tags" {
  description = "Extra tags applied to every resource through provider default_tags. Project, Environment, ManagedBy and Stack are always set and cannot be overridden."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1-128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

variable "vpc_id" {
  description = "VPC of the platform stack (platform output vpc_id)."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (platform output vpc_cidr): an internal server is reachable from it."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the platform stack (platform output private_subnet_ids)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets of the platform stack (platform output public_subnet_ids), for an internet-facing server."
  type        = list(string)
  default     = []
}

variable "cluster_arn" {
  description = "ECS cluster of the platform stack (platform output cluster_arn)."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the platform stack (platform output log_group_name)."
  type        = string
}

variable "image_uri" {
  description = "The worker image, pinned by digest: it carries Prefect and asyncpg, so it runs the server too."
  type        = string
}

variable "internal" {
  description = "An internal load balancer (true) or an internet-facing one."
  type        = bool
  default     = true
}

variable "allowed_cidrs" {
  description = "Who may reach the server on 443. Empty: the VPC's own CIDR."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener; null to have ACM issue one for domain_name."
  type        = string
  default     = null
}

variable "domain_name" {
  description = "Host name of the server (required without certificate_arn)."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route 53 zone of domain_name (validation records and the alias)."
  type        = string
  default     = null
}

variable "db_final_snapshot" {
  description = "Take a final snapshot when the database is destroyed."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion (teardown keeps it unless asked)."
  type        = bool
  default     = true
}

variable "auth_secret_arn" {
  description = "Secret holding the server's basic-auth string (platform output prefect_api_secret_arn: the worker reads the same one). Bootstrap writes its value before the server starts."
  type        = string
}

variable "port" {
  description = "Port the server container listens on."
  type        = number
  default     = 4200
}

variable "db_port" {
  description = "Port of the PostgreSQL instance."
  type        = number
  default     = 5432
}

variable "db_performance_insights" {
  description = "Performance Insights on the database."
  type        = bool
  default     = true
}

variable "group_rule_descriptions" {
  description = "Describe the security-group rules that reference another group (off only for emulators that do not store them)."
  type        = bool
  default     = true
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary of the server's roles (as in the platform stack)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the server image and task: \"X86_64\" or \"ARM64\" (Graviton); the worker image it runs is built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}
