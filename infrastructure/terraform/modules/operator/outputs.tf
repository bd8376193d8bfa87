output "policy_json" {
  description = "The operator policy's JSON, scoped to the environment's names, account and region."
  value       = local.policy_json
}

output "policy_arn" {
  description = "ARN of the managed policy when create_policy is true, else null."
  value       = var.create_policy ? aws_iam_policy.this[0].arn : null
}
