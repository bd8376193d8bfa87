variable "name" {
  description = "Name of the secret (e.g. \"acme/dev/prefect-api-key\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]{1,512}$", var.name))
    error_message = "name must be 1-512 characters of letters, digits and / _ + = . @ -."
  }
}

variable "description" {
  description = "Description of the secret."
  type        = string
  default     = "Prefect API key / auth string for the ECS worker. The value is written out-of-band (boto3), never by Terraform."
}

variable "recovery_window_in_days" {
  description = "Days Secrets Manager waits before deleting the secret after destroy: 0 deletes immediately (ephemeral environments), otherwise 7-30."
  type        = number
  default     = 7

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30 && floor(var.recovery_window_in_days) == var.recovery_window_in_days)
    error_message = "recovery_window_in_days must be 0 or an integer between 7 and 30."
  }
}

variable "kms_key_id" {
  description = "Optional KMS key ARN/ID/alias used to encrypt the secret. Null uses the AWS-managed aws/secretsmanager key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_id == null || try(length(var.kms_key_id) > 0, false)
    error_message = "kms_key_id must be null or a non-empty key identifier."
  }
}

variable "tags" {
  description = "Extra tags added to the secret (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
