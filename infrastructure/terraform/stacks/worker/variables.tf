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

################################################################################
# From the platform stack's outputs
################################################################################

variable "cluster_arn" {
  description = "ARN of the ECS cluster (platform output cluster_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "cluster_name" {
  description = "Name of the ECS cluster (platform output cluster_name); must match cluster_arn."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.cluster_name))
    error_message = "cluster_name must be 1-255 characters of letters, digits, underscores and dashes."
  }
}

variable "private_subnet_ids" {
  description = "Private subnet IDs for the worker tasks (platform output private_subnet_ids); at least one."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1 && length(var.private_subnet_ids) <= 16 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "private_subnet_ids must hold 1-16 subnet IDs (subnet-xxxxxxxx)."
  }
}

variable "worker_security_group_id" {
  description = "Security group of the worker tasks (platform output worker_security_group_id)."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.worker_security_group_id))
    error_message = "worker_security_group_id must be a security group ID (sg-xxxxxxxx)."
  }
}

variable "execution_role_arn" {
  description = "ECS task execution role ARN (platform output execution_role_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN."
  }
}

variable "task_role_arn" {
  description = "Task role ARN of the worker process (platform output worker_task_role_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.task_role_arn))
    error_message = "task_role_arn must be an IAM role ARN."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group of the worker container (platform output log_group_name)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be 1-512 characters of letters, digits and _ / . # -."
  }
}

variable "prefect_api_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Prefect credential (platform output prefect_api_secret_arn). Injected through ECS `secrets`, never as plain environment."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:|ssm:[a-z0-9-]+:[0-9]{12}:parameter/).+$", var.prefect_api_secret_arn))
    error_message = "prefect_api_secret_arn must be a Secrets Manager secret ARN or an SSM parameter ARN."
  }
}

variable "observer_queue_name" {
  description = "SQS queue of ECS task state change events (platform output observer_queue_name); the worker's ECS observer consumes it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.observer_queue_name))
    error_message = "observer_queue_name must be 1-80 characters of letters, digits, underscores and dashes."
  }
}

################################################################################
# Image and Prefect
################################################################################

variable "image_uri" {
  description = "Worker image pinned by digest: \"<ecr_repository_url>@sha256:<64 hex>\". A digest (not a tag) makes re-applies deterministic: same input, same task definition."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must contain \"@sha256:\" followed by a 64-character lowercase hex digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-dev-worker@sha256:<digest>."
  }
}

variable "prefect_api_url" {
  description = "Prefect API URL the worker uses (PREFECT_API_URL)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s/]+(/\\S*)?$", var.prefect_api_url))
    error_message = "prefect_api_url must be an http(s) URL."
  }
}

variable "api_secret_env_name" {
  description = "Environment variable the secret is injected as: \"PREFECT_API_KEY\" (Prefect Cloud) or \"PREFECT_API_AUTH_STRING\" (self-hosted server with basic auth)."
  type        = string
  default     = "PREFECT_API_KEY"

  validation {
    condition     = contains(["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"], var.api_secret_env_name)
    error_message = "api_secret_env_name must be \"PREFECT_API_KEY\" or \"PREFECT_API_AUTH_STRING\"."
  }
}

variable "work_pool_name" {
  description = "Prefect ECS work pool the worker polls."
  type        = string

  validation {
    condition     = length(var.work_pool_name) >= 1 && length(var.work_pool_name) <= 100 && can(regex("^[^/%&><]+$", var.work_pool_name)) && trimspace(var.work_pool_name) == var.work_pool_name
    error_message = "work_pool_name must be 1-100 characters, without / % & > < and without leading or trailing spaces."
  }
}

variable "extra_environment" {
  description = "Extra plain environment variables of the worker container (no credentials). Must not redefine PREFECT_API_URL, PREFECT_API_KEY, PREFECT_API_AUTH_STRING, PREFECT_WORK_POOL, PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_*, PREFECT_WORKER_WEBSERVER_* or PREFECT_WORKER_QUERY_SECONDS."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]{0,254}$", k))])
    error_message = "extra_environment keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)."
  }
}

################################################################################
# Sizing and scaling
################################################################################

variable "worker_cpu" {
  description = "Worker task CPU units (Fargate size: 256, 512, 1024, 2048, 4096, 8192, 16384)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker_cpu)
    error_message = "worker_cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "worker_memory" {
  description = "Worker task memory in MiB, valid for worker_cpu on Fargate (checked by the module)."
  type        = number
  default     = 1024

  validation {
    condition     = var.worker_memory >= 512 && var.worker_memory <= 122880 && floor(var.worker_memory) == var.worker_memory
    error_message = "worker_memory must be an integer number of MiB between 512 and 122880."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the worker image and task: \"X86_64\" or \"ARM64\" (Graviton). The image must be built for it (linux/amd64 or linux/arm64): Fargate runs an image of the other one into an exec format error."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "worker_query_seconds" {
  description = "Seconds between the worker's polls of its pool (PREFECT_WORKER_QUERY_SECONDS; Prefect's default is 10)."
  type        = number
  default     = 5

  validation {
    condition     = var.worker_query_seconds >= 1 && var.worker_query_seconds <= 300 && floor(var.worker_query_seconds) == var.worker_query_seconds
    error_message = "worker_query_seconds must be an integer between 1 and 300."
  }
}

variable "desired_count" {
  description = "Worker tasks the ECS service runs (0-20; 0 parks the worker and disables autoscaling)."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 20 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be an integer between 0 and 20."
  }
}

variable "enable_autoscaling" {
  description = "Scale the service on average CPU between autoscaling_min and autoscaling_max while desired_count > 0 (moto cannot create scalable targets: keep false on the emulator)."
  type        = bool
  default     = false
}

variable "autoscaling_min" {
  description = "Minimum worker tasks with autoscaling (lowered to desired_count when that is smaller)."
  type        = number
  default     = 1

  validation {
    condition     = var.autoscaling_min >= 0 && var.autoscaling_min <= 20 && floor(var.autoscaling_min) == var.autoscaling_min
    error_message = "autoscaling_min must be an integer between 0 and 20."
  }
}

variable "autoscaling_max" {
  description = "Maximum worker tasks with autoscaling, >= autoscaling_min (raised to desired_count when that is larger)."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_max >= 1 && var.autoscaling_max <= 20 && floor(var.autoscaling_max) == var.autoscaling_max
    error_message = "autoscaling_max must be an integer between 1 and 20."
  }
}

################################################################################
# Alarms
################################################################################

variable "enable_alarms" {
  description = "Create CloudWatch alarms for service CPU, memory and running task count (the last needs Container Insights, which the platform cluster enables)."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arns" {
  description = "SNS topics notified on alarm and on recovery (empty: no notifications)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", a))])
    error_message = "alarm_sns_topic_arns must hold SNS topic ARNs."
  }
}

################################################################################
# Provider
################################################################################
variable "tags" {
  description = "Extra tags applied to every resource through provider default_tags. Project, Environment, ManagedBy and Stack are always set and cannot be overridden."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1-128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

variable "enable_health_check" {
  description = "Run the worker with its health server and an ECS container health check on port 8080. The embedded default turns it off: its containers share the host's network."
  type        = bool
  default     = true
}
