################################################################################
# Identity and placement
################################################################################

variable "name" {
  description = "Name of every resource of the server (\"<prefix>-<env>-server\"): the load balancer, target group and database are named so, hence AWS's rules for those: 2-32 lowercase letters, digits and dashes, starting with a letter, not ending with a dash, no two dashes in a row (RDS), not starting with \"internal-\" (ALB)."
  type        = string

  validation {
    condition     = can(regex("^[a-z](-?[a-z0-9])+$", var.name)) && length(var.name) <= 32 && !startswith(var.name, "internal-")
    error_message = "name must be 2-32 characters of lowercase letters, digits and dashes, starting with a letter, not ending with a dash, with no two dashes in a row and not starting with \"internal-\" (AWS's rules for load balancer, target group and RDS instance names)."
  }
}

variable "vpc_id" {
  description = "VPC of the platform stack (platform output vpc_id)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the server tasks, the database and an internal load balancer (at least two AZs: RDS and ALB need them)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "private_subnet_ids must hold at least two subnet IDs (subnet-...)."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets for an internet-facing load balancer (unused when internal = true)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "public_subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the server service runs in (platform output cluster_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group of the server container (platform output log_group_name); streams are prefixed `server`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be 1-512 characters of letters, digits and _ / . # -."
  }
}

################################################################################
# The server task
################################################################################

variable "image_uri" {
  description = "Image with Prefect installed, pinned by digest (the worker image serves: it has prefect and asyncpg)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must be pinned by digest: <repository>@sha256:<64 hex>."
  }
}

variable "port" {
  description = "Port the server container listens on (the target group forwards to it)."
  type        = number
  default     = 4200

  validation {
    condition     = var.port >= 1024 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number between 1024 and 65535 (the image runs as a non-root user)."
  }
}

variable "cpu" {
  description = "Fargate CPU units of the server task."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Memory (MiB) of the server task; must be valid for cpu."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

################################################################################
# Load balancer and certificate
################################################################################

variable "internal" {
  description = "An internal load balancer (reachable from the VPC and peered networks) or an internet-facing one."
  type        = bool
  default     = true
}

variable "allowed_cidrs" {
  description = "CIDR blocks allowed to reach the load balancer on 443 (e.g. the VPC's CIDR, a VPN range)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidrs) >= 1 && alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must hold at least one valid IPv4 CIDR block."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener. Null: ACM issues one for domain_name, DNS-validated in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "domain_name" {
  description = "Host name of the server (e.g. prefect.example.com). Required without certificate_arn; with route53_zone_id it also gets an alias record."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as prefect.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone that holds domain_name: the certificate's validation records and the alias go there."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^[A-Za-z0-9]{1,32}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a Route 53 hosted zone ID (letters and digits, e.g. Z0123456789ABC)."
  }
}

variable "manage_dns_record" {
  description = "Create an alias record for domain_name in route53_zone_id pointing at the load balancer (false when DNS is managed elsewhere)."
  type        = bool
  default     = true
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before a teardown)."
  type        = bool
  default     = false
}

################################################################################
# Database
################################################################################

variable "postgres_version" {
  description = "RDS PostgreSQL engine version: the major (16), so RDS picks and upgrades the minor (auto_minor_version_upgrade); a full 16.x pins a minor AWS later retires."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.postgres_version))
    error_message = "postgres_version must be PostgreSQL 16: the major 16 (recommended) or a minor such as 16.8."
  }
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.t4g.micro."
  }
}

variable "db_allocated_storage" {
  description = "Database storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "db_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_multi_az" {
  description = "A standby in a second AZ (doubles the instance cost)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (1-35; backups stay on)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_port" {
  description = "Port of the PostgreSQL instance."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port >= 1150 && var.db_port <= 65535 && floor(var.db_port) == var.db_port
    error_message = "db_port must be a whole number between 1150 and 65535 (RDS's range for PostgreSQL)."
  }
}

variable "db_performance_insights" {
  description = "Performance Insights on the database (7 days are free)."
  type        = bool
  default     = true
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

variable "db_kms_key_arn" {
  description = "KMS key for storage and Performance Insights encryption. Null: the AWS-managed RDS key."
  type        = string
  default     = null
}

################################################################################
# Secrets and tags
################################################################################

variable "auth_secret_arn" {
  description = "Secrets Manager secret holding the basic-auth string `user:password` (written by the caller, never by Terraform). Null: the module makes one (name \"<name>/auth-string\") whose value the caller writes."
  type        = string
  default     = null

  validation {
    condition     = var.auth_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.auth_secret_arn))
    error_message = "auth_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the auth-string secret the module makes (0 deletes at once: only for disposable environments)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the auth-string secret (the module's or auth_secret_arn's); the execution role may decrypt with it through Secrets Manager. Null: the AWS-managed Secrets Manager key."
  type        = string
  default     = null
}

variable "group_rule_descriptions" {
  description = "Describe the security-group rules that reference another group. Only for emulators that do not store those descriptions (moto), so a re-plan settles."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags added to every resource of the module (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary of the server's execution and task roles (accounts whose SCPs require one on every role)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the server task (runtime_platform): \"X86_64\" or \"ARM64\" (Graviton). The image must be built for it: Fargate runs an image of the other one into an exec format error."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}
