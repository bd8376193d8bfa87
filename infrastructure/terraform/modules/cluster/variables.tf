variable "name" {
  description = "Name of the ECS cluster (e.g. \"acme-dev-cluster\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.name))
    error_message = "name must be 1-255 characters of letters, digits, underscores and dashes."
  }
}

variable "container_insights" {
  description = "CloudWatch Container Insights mode for the cluster: \"enabled\", \"enhanced\" or \"disabled\"."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be \"enabled\", \"enhanced\" or \"disabled\"."
  }
}

variable "capacity_providers" {
  description = "Capacity providers associated with the cluster."
  type        = list(string)
  default     = ["FARGATE", "FARGATE_SPOT"]

  validation {
    condition     = length(var.capacity_providers) >= 1 && alltrue([for cp in var.capacity_providers : contains(["FARGATE", "FARGATE_SPOT"], cp)])
    error_message = "capacity_providers must be a non-empty subset of [\"FARGATE\", \"FARGATE_SPOT\"]."
  }
}

variable "default_capacity_provider_strategy" {
  description = "Default capacity provider strategy for tasks launched without an explicit strategy or launch type."
  type = list(object({
    capacity_provider = string
    weight            = number
    base              = optional(number, 0)
  }))
  default = [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]

  validation {
    condition = length(var.default_capacity_provider_strategy) >= 1 && alltrue([
      for s in var.default_capacity_provider_strategy :
      contains(["FARGATE", "FARGATE_SPOT"], s.capacity_provider) && s.weight >= 0 && s.weight <= 1000 && s.base >= 0 && s.base <= 100000
    ]) && length([for s in var.default_capacity_provider_strategy : s if s.base > 0]) <= 1
    error_message = "Each strategy item needs capacity_provider FARGATE or FARGATE_SPOT, weight 0-1000 and base 0-100000; at most one item may have base > 0."
  }
}

variable "tags" {
  description = "Extra tags added to the cluster (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
