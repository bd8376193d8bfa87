output "service_name" {
  description = "Name of the ECS service running the Prefect worker."
  value       = module.worker_service.service_name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = module.worker_service.service_arn
}

output "task_definition_arn" {
  description = "ARN (with revision) of the worker task definition."
  value       = module.worker_service.task_definition_arn
}

output "task_definition_family" {
  description = "Family of the worker task definition."
  value       = module.worker_service.task_definition_family
}

output "container_name" {
  description = "Name of the worker container."
  value       = module.worker_service.container_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms (empty when enable_alarms is false)."
  value       = module.worker_service.alarm_names
}

output "autoscaling_enabled" {
  description = "Whether CPU target-tracking autoscaling is configured."
  value       = module.worker_service.autoscaling_enabled
}

output "image_uri" {
  description = "Digest-pinned image the worker runs (teardown rebuilds the stack's inputs from it)."
  value       = var.image_uri
}
