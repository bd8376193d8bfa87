output "role_arn" {
  description = "The CI role: set it as the repository variable AWS_ROLE_ARN."
  value       = module.ci.role_arn
}

output "oidc_provider_arn" {
  description = "The GitHub Actions OIDC provider the role trusts."
  value       = module.ci.oidc_provider_arn
}

output "oidc_subject" {
  description = "The only workflow identity (sub claim) the role accepts."
  value       = module.ci.oidc_subject
}

output "repository_arn" {
  description = "ARN of the ECR repository CI pushes flow images to."
  value       = module.ecr.repository_arn
}

output "repository_url" {
  description = "URL of that repository: the repository variable ECR_REPOSITORY's registry and name."
  value       = module.ecr.repository_url
}
