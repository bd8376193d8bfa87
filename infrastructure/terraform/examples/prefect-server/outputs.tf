output "api_url" {
  description = "The example server's Prefect API URL."
  value       = module.server.api_url
}

output "auth_secret_arn" {
  description = "Secret of the example server's basic-auth string."
  value       = module.server.auth_secret_arn
}

output "security_group_ids" {
  description = "The chained security groups of the example server."
  value       = module.server.security_group_ids
}
