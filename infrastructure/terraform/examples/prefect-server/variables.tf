variable "region" {
  description = "AWS region to deploy the example into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1 or eu-central-1."
  }
}

variable "domain_name" {
  description = "Host name of the example server; a Route 53 zone for its parent domain is created."
  type        = string
  default     = "prefect.example.internal"
}

variable "image_uri" {
  description = "Image with Prefect, pinned by digest."
  type        = string
  default     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/prefect-example-worker@sha256:0000000000000000000000000000000000000000000000000000000000000000"
}
