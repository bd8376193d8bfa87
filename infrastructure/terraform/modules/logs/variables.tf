variable "name" {
  description = "Name of the CloudWatch log group (e.g. \"/ecs/acme-dev\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.name))
    error_message = "name must be 1-512 characters of letters, digits and _ / . # -."
  }
}

variable "retention_in_days" {
  description = "Days log events are kept. Must be one of the values CloudWatch Logs accepts."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_in_days)
    error_message = "retention_in_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_key_arn" {
  description = "Optional KMS key ARN used to encrypt the log group. The key policy must allow the CloudWatch Logs service principal. Null uses default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "tags" {
  description = "Extra tags added to the log group (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
