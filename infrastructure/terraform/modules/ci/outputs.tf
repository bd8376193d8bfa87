output "role_arn" {
  description = "ARN of the CI role: the `role-to-assume` of aws-actions/configure-aws-credentials (repository variable AWS_ROLE_ARN)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the CI role."
  value       = aws_iam_role.this.name
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the role trusts (created here unless one was passed in)."
  value       = local.oidc_provider_arn
}

output "oidc_subject" {
  description = "The only `sub` claim the role accepts: repo:<owner>/<repo>:ref:refs/heads/<branch>."
  value       = local.subject
}
