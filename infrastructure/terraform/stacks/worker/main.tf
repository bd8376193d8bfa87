locals {
  name = "${var.name_prefix}-${var.environment}"
}

# Every input that comes from the platform stack is a plain variable: the
# bootstrap flow reads the platform outputs and passes them here, so this stack
# has no terraform_remote_state coupling to the platform state's location.
module "worker_service" {
  source = "../../modules/worker_service"

  name         = "${local.name}-worker"
  region       = var.region
  cluster_arn  = var.cluster_arn
  cluster_name = var.cluster_name

  subnet_ids         = var.private_subnet_ids
  security_group_ids = [var.worker_security_group_id]

  execution_role_arn = var.execution_role_arn
  task_role_arn      = var.task_role_arn
  image_uri          = var.image_uri
  cpu                = var.worker_cpu
  memory             = var.worker_memory
  cpu_architecture   = var.cpu_architecture
  log_group_name     = var.log_group_name

  prefect_api_url        = var.prefect_api_url
  prefect_api_secret_arn = var.prefect_api_secret_arn
  api_secret_env_name    = var.api_secret_env_name
  work_pool_name         = var.work_pool_name
  observer_queue_name    = var.observer_queue_name
  query_seconds          = var.worker_query_seconds
  extra_environment      = var.extra_environment

  desired_count      = var.desired_count
  enable_autoscaling = var.enable_autoscaling
  autoscaling_min    = var.autoscaling_min
  autoscaling_max    = var.autoscaling_max

  enable_alarms        = var.enable_alarms
  enable_health_check  = var.enable_health_check
  alarm_sns_topic_arns = var.alarm_sns_topic_arns
}
