variable "code_bucket_name" {
  description = "Name of the bucket that holds flow code (what deployments push and flow runs pull), e.g. \"acme-dev-code-123456789012\"."
  type        = string

  validation {
    # S3's bucket naming rules (S3 User Guide, "Bucket naming rules"), the suffix rules aside: these names end in the account ID.
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.code_bucket_name)) && !can(regex("\\.\\.", var.code_bucket_name)) && !startswith(var.code_bucket_name, "xn--") && !startswith(var.code_bucket_name, "sthree-") && !startswith(var.code_bucket_name, "amzn-s3-demo-")
    error_message = "code_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and dashes, starting and ending with a letter or digit, not starting with xn--, sthree- or amzn-s3-demo-."
  }
}

variable "results_bucket_name" {
  description = "Name of the bucket that holds flow-run results (Prefect's result storage), e.g. \"acme-dev-results-123456789012\"."
  type        = string

  validation {
    # S3's bucket naming rules (S3 User Guide, "Bucket naming rules"), the suffix rules aside: these names end in the account ID.
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket_name)) && !can(regex("\\.\\.", var.results_bucket_name)) && !startswith(var.results_bucket_name, "xn--") && !startswith(var.results_bucket_name, "sthree-") && !startswith(var.results_bucket_name, "amzn-s3-demo-")
    error_message = "results_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and dashes, starting and ending with a letter or digit, not starting with xn--, sthree- or amzn-s3-demo-."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept before S3 expires it (versioning keeps history; this bounds its cost)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be an integer between 1 and 3650."
  }
}

variable "force_destroy" {
  description = "Let Terraform delete the buckets while they still hold objects. Keep false: teardown empties what bootstrap wrote, and anything else is someone's code or results."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags added to both buckets (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
