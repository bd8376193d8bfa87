variable "name" {
  description = "Name of the ECR repository (e.g. \"acme-dev-worker\")."
  type        = string

  validation {
    # ECR's own pattern (CreateRepository's repositoryName): a run of hyphens is one separator.
    condition     = can(regex("^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lowercase letters and digits parted by ., _, __ or hyphens, / between parts; 2-256 characters)."
  }
}

variable "encryption_type" {
  description = "Encryption at rest: \"AES256\" (S3-managed keys) or \"KMS\"."
  type        = string
  default     = "AES256"

  validation {
    condition     = contains(["AES256", "KMS"], var.encryption_type)
    error_message = "encryption_type must be \"AES256\" or \"KMS\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN used when encryption_type is \"KMS\". Null with \"KMS\" uses the AWS-managed aws/ecr key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "keep_last_images" {
  description = "Number of most recent images kept by the lifecycle policy; older images are expired."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_last_images >= 1 && var.keep_last_images <= 10000 && floor(var.keep_last_images) == var.keep_last_images
    error_message = "keep_last_images must be an integer between 1 and 10000."
  }
}

variable "keep_last_flow_images" {
  description = "Number of most recent flow images (tags starting with flow_image_tag_prefix) kept; counted apart from the worker image."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_last_flow_images >= 1 && var.keep_last_flow_images <= 10000 && floor(var.keep_last_flow_images) == var.keep_last_flow_images
    error_message = "keep_last_flow_images must be an integer between 1 and 10000."
  }
}

variable "flow_image_tag_prefix" {
  description = "Tag prefix of images built FROM the worker image for users' flows (examples/github-actions pushes flows-<sha>)."
  type        = string
  default     = "flows-"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.flow_image_tag_prefix))
    error_message = "flow_image_tag_prefix must be 1-64 letters, digits, '_', '.' or '-'."
  }
}

variable "untagged_expiry_days" {
  description = "Untagged images are expired this many days after push."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "untagged_expiry_days must be a positive integer."
  }
}

variable "force_delete" {
  description = "Allow Terraform to delete the repository even if it still contains images. Keep false outside ephemeral environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags added to the repository (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
