output "service_name" {
  description = "Name of the ECS service running the Prefect worker."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service (the resource ID)."
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "ARN (with revision) of the worker task definition the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the worker task definition."
  value       = aws_ecs_task_definition.this.family
}

output "container_name" {
  description = "Name of the worker container in the task definition (awslogs streams are <log_stream_prefix>/<container_name>/<task id>)."
  value       = local.container_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms created (empty when enable_alarms is false; no running-tasks alarm when no task is expected)."
  value       = [for k in sort(keys(aws_cloudwatch_metric_alarm.this)) : aws_cloudwatch_metric_alarm.this[k].alarm_name]
}

output "autoscaling_enabled" {
  description = "Whether the Application Auto Scaling target and CPU target-tracking policy exist (enable_autoscaling and desired_count > 0)."
  value       = local.autoscaling_enabled
}
