################################################################################
# Identity and placement
################################################################################

variable "name" {
  description = "Name of the task definition family, the ECS service and the alarm prefix (e.g. \"acme-dev-worker\"): letters, digits, underscores and dashes, 1-200 characters."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$", var.name))
    error_message = "name must be 1-200 characters of letters, digits, underscores and dashes, starting with a letter or digit."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "cluster_name" {
  description = "Name of the same ECS cluster (the ClusterName alarm dimension and the autoscaling resource ID); must match the last segment of cluster_arn."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.cluster_name))
    error_message = "cluster_name must be 1-255 characters of letters, digits, underscores and dashes."
  }
}

variable "subnet_ids" {
  description = "Private subnet IDs the worker tasks are placed in (awsvpc, no public IP: egress goes through NAT)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1 && length(var.subnet_ids) <= 16 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must hold 1-16 subnet IDs (subnet-xxxxxxxx)."
  }
}

variable "security_group_ids" {
  description = "Security group IDs attached to the worker tasks' network interfaces (1-5)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1 && length(var.security_group_ids) <= 5 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", s))])
    error_message = "security_group_ids must hold 1-5 security group IDs (sg-xxxxxxxx)."
  }
}

################################################################################
# Task definition
################################################################################

variable "execution_role_arn" {
  description = "ARN of the ECS task execution role (image pull, log shipping, reading prefect_api_secret_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN."
  }
}

variable "task_role_arn" {
  description = "ARN of the task role the worker process runs as (RunTask, PassRole, observer queue)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.task_role_arn))
    error_message = "task_role_arn must be an IAM role ARN."
  }
}

variable "image_uri" {
  description = "Worker image pinned by digest (\"<registry>/<repository>@sha256:<64 hex>\"), so a re-apply never silently picks up a different image."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must be pinned by digest: \"<registry>/<repository>@sha256:<64 lowercase hex characters>\"."
  }
}

variable "cpu" {
  description = "Task CPU units: a Fargate size (256, 512, 1024, 2048, 4096, 8192 or 16384)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Task (and container hard-limit) memory in MiB; must be valid for cpu on Fargate (e.g. 512 CPU: 1024-4096 in 1024 steps)."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && floor(var.memory) == var.memory
    error_message = "memory must be an integer number of MiB between 512 and 122880."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the task (runtime_platform): \"X86_64\" or \"ARM64\" (Graviton). The image must be built for it: Fargate runs an image of the other one into an exec format error."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "region" {
  description = "Region of the log group and observer queue. Null = the provider's region."
  type        = string
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be null or an AWS region name such as us-east-1."
  }
}

variable "log_group_name" {
  description = "Existing CloudWatch log group the container logs go to (awslogs driver)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be 1-512 characters of letters, digits and _ / . # -."
  }
}

variable "log_stream_prefix" {
  description = "awslogs stream prefix: streams are named <prefix>/prefect-worker/<task id>."
  type        = string
  default     = "worker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.log_stream_prefix))
    error_message = "log_stream_prefix must be 1-64 characters of letters, digits and _ . -."
  }
}

################################################################################
# Prefect
################################################################################

variable "prefect_api_url" {
  description = "Prefect API URL the worker talks to (PREFECT_API_URL), e.g. https://api.prefect.cloud/api/accounts/<id>/workspaces/<id>."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s/]+(/\\S*)?$", var.prefect_api_url))
    error_message = "prefect_api_url must be an http(s) URL."
  }
}

variable "prefect_api_secret_arn" {
  description = "ARN of the Secrets Manager secret (or SSM SecureString parameter) holding the Prefect credential; injected by ECS through `secrets`, never as plain environment."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:|ssm:[a-z0-9-]+:[0-9]{12}:parameter/).+$", var.prefect_api_secret_arn))
    error_message = "prefect_api_secret_arn must be a Secrets Manager secret ARN or an SSM parameter ARN."
  }
}

variable "api_secret_env_name" {
  description = "Environment variable the credential is injected as: \"PREFECT_API_KEY\" (Prefect Cloud) or \"PREFECT_API_AUTH_STRING\" (self-hosted server with basic auth)."
  type        = string
  default     = "PREFECT_API_KEY"

  validation {
    condition     = contains(["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"], var.api_secret_env_name)
    error_message = "api_secret_env_name must be \"PREFECT_API_KEY\" or \"PREFECT_API_AUTH_STRING\"."
  }
}

variable "work_pool_name" {
  description = "Name of the Prefect ECS work pool the worker polls."
  type        = string

  validation {
    condition     = length(var.work_pool_name) >= 1 && length(var.work_pool_name) <= 100 && can(regex("^[^/%&><]+$", var.work_pool_name)) && trimspace(var.work_pool_name) == var.work_pool_name
    error_message = "work_pool_name must be 1-100 characters, without / % & > < and without leading or trailing spaces."
  }
}

variable "observer_queue_name" {
  description = "Name of the SQS queue with ECS task state change events that the prefect-aws ECS observer consumes (set as PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.observer_queue_name))
    error_message = "observer_queue_name must be 1-80 characters of letters, digits, underscores and dashes (an SQS standard queue name)."
  }
}

variable "query_seconds" {
  description = "Seconds between the worker's polls of its pool for runs to start (PREFECT_WORKER_QUERY_SECONDS; Prefect's default is 10). Lower starts runs sooner, at one API call per poll."
  type        = number
  default     = 10

  validation {
    condition     = var.query_seconds >= 1 && var.query_seconds <= 300 && floor(var.query_seconds) == var.query_seconds
    error_message = "query_seconds must be an integer between 1 and 300."
  }
}

variable "extra_environment" {
  description = "Additional plain environment variables of the worker container (no credentials: use Secrets Manager). Must not redefine the variables this module sets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]{0,254}$", k))])
    error_message = "extra_environment keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)."
  }

  validation {
    condition = length(setintersection(keys(var.extra_environment), [
      "PREFECT_API_URL",
      "PREFECT_API_KEY",
      "PREFECT_API_AUTH_STRING",
      "PREFECT_WORK_POOL",
      "PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_NAME",
      "PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_REGION",
      "PREFECT_WORKER_WEBSERVER_HOST",
      "PREFECT_WORKER_WEBSERVER_PORT",
      "PREFECT_WORKER_QUERY_SECONDS",
    ])) == 0
    error_message = "extra_environment must not set PREFECT_API_URL, PREFECT_API_KEY, PREFECT_API_AUTH_STRING, PREFECT_WORK_POOL, PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_*, PREFECT_WORKER_WEBSERVER_* or PREFECT_WORKER_QUERY_SECONDS (module inputs; credentials only through the secret)."
  }
}

variable "enable_health_check" {
  description = "Run the worker with --with-healthcheck (GET /health on 127.0.0.1:8080) and give the container an ECS health check that calls it with the image's python. The image needs python and a prefect with --with-healthcheck on PATH (the worker image has both)."
  type        = bool
  default     = true
}

################################################################################
# Service
################################################################################

variable "desired_count" {
  description = "Worker tasks the service runs (0-20). 0 parks the worker without deleting it (and disables autoscaling). With autoscaling it is the count each apply sets; autoscaling then adjusts it."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 20 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be an integer between 0 and 20."
  }
}

variable "capacity_provider_strategy" {
  description = "Capacity provider strategy (FARGATE / FARGATE_SPOT). Empty = launch_type FARGATE. Switching between the two replaces the service."
  type = list(object({
    capacity_provider = string
    weight            = number
    base              = optional(number, 0)
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.capacity_provider_strategy :
      contains(["FARGATE", "FARGATE_SPOT"], s.capacity_provider) && s.weight >= 0 && s.weight <= 1000 && s.base >= 0 && s.base <= 100000
    ]) && length([for s in var.capacity_provider_strategy : s if s.base > 0]) <= 1
    error_message = "Each strategy item needs capacity_provider FARGATE or FARGATE_SPOT, weight 0-1000 and base 0-100000; at most one item may have base > 0."
  }
}

variable "platform_version" {
  description = "Fargate platform version (\"LATEST\" or e.g. \"1.4.0\")."
  type        = string
  default     = "LATEST"

  validation {
    condition     = can(regex("^(LATEST|[0-9]+\\.[0-9]+\\.[0-9]+)$", var.platform_version))
    error_message = "platform_version must be \"LATEST\" or a version such as \"1.4.0\"."
  }
}

variable "deployment_minimum_healthy_percent" {
  description = "Lower bound of running tasks during a deployment, in percent of desired_count. 100 (with maximum 200) starts the new worker before the old one stops, so the pool is never without a worker."
  type        = number
  default     = 100

  validation {
    condition     = var.deployment_minimum_healthy_percent >= 0 && var.deployment_minimum_healthy_percent <= 100 && floor(var.deployment_minimum_healthy_percent) == var.deployment_minimum_healthy_percent
    error_message = "deployment_minimum_healthy_percent must be an integer between 0 and 100."
  }
}

variable "deployment_maximum_percent" {
  description = "Upper bound of running tasks during a deployment, in percent of desired_count (100-200)."
  type        = number
  default     = 200

  validation {
    condition     = var.deployment_maximum_percent >= 100 && var.deployment_maximum_percent <= 200 && floor(var.deployment_maximum_percent) == var.deployment_maximum_percent
    error_message = "deployment_maximum_percent must be an integer between 100 and 200."
  }
}

################################################################################
# Autoscaling (off by default; moto cannot create scalable targets)
################################################################################

variable "enable_autoscaling" {
  description = "Create an Application Auto Scaling target and a target-tracking policy on average service CPU (only while desired_count > 0). Each apply still sets desired_count, which autoscaling then adjusts."
  type        = bool
  default     = false
}

variable "autoscaling_min" {
  description = "Minimum worker tasks with autoscaling; lowered to desired_count when that is smaller."
  type        = number
  default     = 1

  validation {
    condition     = var.autoscaling_min >= 0 && var.autoscaling_min <= 20 && floor(var.autoscaling_min) == var.autoscaling_min
    error_message = "autoscaling_min must be an integer between 0 and 20."
  }
}

variable "autoscaling_max" {
  description = "Maximum worker tasks with autoscaling (>= autoscaling_min); raised to desired_count when that is larger."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_max >= 1 && var.autoscaling_max <= 20 && floor(var.autoscaling_max) == var.autoscaling_max
    error_message = "autoscaling_max must be an integer between 1 and 20."
  }
}

variable "autoscaling_cpu_target" {
  description = "Average service CPU utilisation (percent) the target-tracking policy keeps."
  type        = number
  default     = 70

  validation {
    condition     = var.autoscaling_cpu_target >= 10 && var.autoscaling_cpu_target <= 95
    error_message = "autoscaling_cpu_target must be between 10 and 95."
  }
}

variable "autoscaling_scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in."
  type        = number
  default     = 300

  validation {
    condition     = var.autoscaling_scale_in_cooldown >= 0 && var.autoscaling_scale_in_cooldown <= 3600
    error_message = "autoscaling_scale_in_cooldown must be between 0 and 3600."
  }
}

variable "autoscaling_scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out."
  type        = number
  default     = 60

  validation {
    condition     = var.autoscaling_scale_out_cooldown >= 0 && var.autoscaling_scale_out_cooldown <= 3600
    error_message = "autoscaling_scale_out_cooldown must be between 0 and 3600."
  }
}

################################################################################
# Alarms
################################################################################

variable "enable_alarms" {
  description = "Create CloudWatch alarms: service CPU high, memory high, and running tasks below the expected count (needs Container Insights on the cluster)."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arns" {
  description = "SNS topic ARNs notified when an alarm fires and when it recovers (empty: alarms only change state)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", a))])
    error_message = "alarm_sns_topic_arns must hold SNS topic ARNs."
  }
}

variable "cpu_alarm_threshold" {
  description = "Average service CPU utilisation (percent) above which the CPU alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_alarm_threshold > 0 && var.cpu_alarm_threshold <= 100
    error_message = "cpu_alarm_threshold must be greater than 0 and at most 100."
  }
}

variable "memory_alarm_threshold" {
  description = "Average service memory utilisation (percent) above which the memory alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.memory_alarm_threshold > 0 && var.memory_alarm_threshold <= 100
    error_message = "memory_alarm_threshold must be greater than 0 and at most 100."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive 5-minute (CPU, memory) or 1-minute (running tasks) periods that must breach before an alarm fires."
  type        = number
  default     = 3

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 60 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be an integer between 1 and 60."
  }
}

variable "tags" {
  description = "Extra tags added to every resource of the module (on top of provider default_tags). The service propagates its tags to its tasks."
  type        = map(string)
  default     = {}
}
