variable "name" {
  description = "Name prefix for every network resource (e.g. \"acme-dev\"). Used in Name tags and the security group name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC. Subnet CIDRs are derived from it with cidrsubnet()."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR block with a prefix length between /16 and /24."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the public and private subnets over (1-6)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be an integer between 1 and 6."
  }
}

variable "availability_zones" {
  description = "Explicit list of availability zone names to use. When null, the first az_count zones reported as available in the region are used."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) >= 1, false)
    error_message = "availability_zones must be null or a non-empty list."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix length for every subnet (cidrsubnet newbits). Public subnets use netnums 0..5, private subnets netnums 8..13, so at least 4 bits are needed; the resulting prefix must not exceed /28."
  type        = number
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 4 && var.subnet_newbits <= 12 && floor(var.subnet_newbits) == var.subnet_newbits
    error_message = "subnet_newbits must be an integer between 4 and 12."
  }
}

variable "nat_mode" {
  description = "NAT gateway layout: \"single\" (one NAT in the first public subnet, shared by all private subnets), \"per_az\" (one NAT per AZ) or \"none\" (no NAT gateway and no Elastic IP; private subnets have no internet route)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_mode)
    error_message = "nat_mode must be one of \"single\", \"per_az\" or \"none\"."
  }
}

variable "allow_http_egress" {
  description = "Whether the worker security group also allows outbound HTTP (TCP 80) to the internet, in addition to HTTPS (TCP 443)."
  type        = bool
  default     = true
}

variable "worker_extra_egress_rules" {
  description = "Additional TCP egress rules for the worker security group, e.g. a self-hosted Prefect server on port 4200 inside the VPC."
  type = list(object({
    description = string
    port        = number
    cidr_blocks = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.worker_extra_egress_rules : r.port >= 1 && r.port <= 65535 && alltrue([for c in r.cidr_blocks : can(cidrhost(c, 0))])])
    error_message = "Every extra egress rule needs a port between 1 and 65535 and valid IPv4 CIDR blocks."
  }
}

variable "enable_flow_logs" {
  description = "Whether to ship VPC flow logs (ALL traffic) to a dedicated CloudWatch log group."
  type        = bool
  default     = false
}

variable "flow_logs_retention_days" {
  description = "Retention in days of the VPC flow log group (only used when enable_flow_logs is true)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be one of the retention values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "flow_logs_kms_key_arn" {
  description = "Optional KMS key ARN used to encrypt the VPC flow log group. Null uses CloudWatch Logs default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.flow_logs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.flow_logs_kms_key_arn))
    error_message = "flow_logs_kms_key_arn must be null or a KMS key ARN."
  }
}

variable "tags" {
  description = "Extra tags added to every resource of the module (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary of the flow-logs role (accounts whose SCPs require one on every role)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}
