output "policy_json" {
  description = "The operator policy's JSON, scoped to the environment's names, account and region (all statements in one document, to read)."
  value       = local.policy_json
}

output "policy_parts_json" {
  description = "The same statements as the managed policies hold them: one JSON document per part, each under IAM's 6,144-character limit of a managed policy."
  value       = local.parts_json
}

output "policy_arns" {
  description = "ARNs of the managed policies (one per part; attach them all) when create_policy is true, else an empty list."
  value       = aws_iam_policy.this[*].arn
}
