output "api_url" {
  description = "The server's Prefect API URL: the worker's prefect_api_url."
  value       = module.server.api_url
}

output "auth_secret_arn" {
  description = "Secret of the server's basic-auth string: the worker stack's prefect_api_secret_arn."
  value       = module.server.auth_secret_arn
}

output "db_address" {
  description = "Host name of the server's RDS instance."
  value       = module.server.db_address
}

output "db_identifier" {
  description = "Identifier of the server's RDS instance."
  value       = module.server.db_identifier
}

output "db_master_secret_arn" {
  description = "RDS-managed secret with the database's master username and password."
  value       = module.server.db_master_secret_arn
}

output "service_name" {
  description = "The server's ECS service."
  value       = module.server.service_name
}

output "image_uri" {
  description = "The image the server task runs (drift-check and teardown re-plan with it)."
  value       = var.image_uri
}
