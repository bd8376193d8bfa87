variable "name" {
  description = "Name prefix for the IAM roles (e.g. \"acme-dev\"); roles are named <name>-execution, <name>-worker-task and <name>-flow-run-task."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the worker launches flow runs in; ECS permissions of the worker role are scoped to it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "log_group_arn" {
  description = "ARN of the CloudWatch log group used by the worker and flow-run containers (with or without the trailing \":*\")."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:.+$", var.log_group_arn))
    error_message = "log_group_arn must be a CloudWatch Logs log-group ARN."
  }
}

variable "secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Prefect API key; the execution role may read only this secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.secret_arn))
    error_message = "secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "secret_kms_key_arn" {
  description = "Optional customer-managed KMS key ARN that encrypts the secret; when set the execution role is allowed kms:Decrypt on it (via Secrets Manager only)."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.secret_kms_key_arn))
    error_message = "secret_kms_key_arn must be null or a KMS key ARN."
  }
}

variable "observer_queue_arn" {
  description = "ARN of the SQS queue receiving ECS task state change events; the worker role may consume from it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:.+$", var.observer_queue_arn))
    error_message = "observer_queue_arn must be an SQS queue ARN."
  }
}

variable "code_bucket_arn" {
  description = "Optional ARN of the flow-code bucket; the flow-run task role may list it and read its objects."
  type        = string
  default     = null

  validation {
    condition     = var.code_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.code_bucket_arn))
    error_message = "code_bucket_arn must be null or an S3 bucket ARN (arn:aws:s3:::NAME)."
  }
}

variable "results_bucket_arn" {
  description = "Optional ARN of the flow-results bucket; the flow-run task role may list it and read and write its objects."
  type        = string
  default     = null

  validation {
    condition     = var.results_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket_arn))
    error_message = "results_bucket_arn must be null or an S3 bucket ARN (arn:aws:s3:::NAME)."
  }
}

variable "flow_run_managed_policy_arns" {
  description = "Extra managed policy ARNs attached to the flow-run task role (what the flow code itself may do in AWS). Values must be known at plan time."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.flow_run_managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", a))])
    error_message = "Every entry of flow_run_managed_policy_arns must be an IAM managed policy ARN."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary applied to all three roles."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}

variable "tags" {
  description = "Extra tags added to every role (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
