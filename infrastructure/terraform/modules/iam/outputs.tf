output "execution_role_arn" {
  description = "ARN of the ECS task execution role (image pull, log shipping, secret injection)."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the ECS task execution role."
  value       = aws_iam_role.execution.name
}

output "worker_task_role_arn" {
  description = "ARN of the Prefect worker's task role."
  value       = aws_iam_role.worker.arn
}

output "worker_task_role_name" {
  description = "Name of the Prefect worker's task role."
  value       = aws_iam_role.worker.name
}

output "flow_run_task_role_arn" {
  description = "ARN of the task role assumed by flow-run containers."
  value       = aws_iam_role.flow_run.arn
}

output "flow_run_task_role_name" {
  description = "Name of the task role assumed by flow-run containers."
  value       = aws_iam_role.flow_run.name
}

output "worker_policy_json" {
  description = "Rendered inline policy document of the worker task role (useful for review and policy simulation)."
  value       = data.aws_iam_policy_document.worker.json
}

output "flow_run_storage_policy_json" {
  description = "Rendered storage policy of the flow-run task role (null without buckets): read on the code bucket, read/write on the results bucket."
  value       = local.storage_enabled ? data.aws_iam_policy_document.flow_run_storage[0].json : null
}
