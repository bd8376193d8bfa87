variable "queue_name" {
  description = "Name of the SQS queue receiving ECS task state change events (prefect-aws's own default is \"prefect-ecs-tasks-events\"; pass the name to the work pool)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.queue_name))
    error_message = "queue_name must be 1-76 characters of letters, digits, underscores and dashes (the DLQ appends \"-dlq\")."
  }
}

variable "rule_name" {
  description = "Name of the EventBridge rule. Defaults to the queue name."
  type        = string
  default     = null

  validation {
    condition     = var.rule_name == null || can(regex("^[A-Za-z0-9._-]{1,64}$", var.rule_name))
    error_message = "rule_name must be null or 1-64 characters of letters, digits and . _ -."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster whose task state changes are forwarded to the queue."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "message_retention_seconds" {
  description = "How long the main queue keeps undelivered events (60-1209600 seconds)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps events (60-1209600 seconds)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the main queue (0-43200 seconds)."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message is moved to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "tags" {
  description = "Extra tags added to the queues and the rule (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
