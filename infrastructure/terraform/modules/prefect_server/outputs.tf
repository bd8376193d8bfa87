output "api_url" {
  description = "The Prefect API URL the worker and users use (https://<domain or ALB DNS name>/api)."
  value       = "https://${local.host}/api"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "auth_secret_arn" {
  description = "Secrets Manager secret of the server's basic-auth string (auth_secret_arn, or the one the module made; bootstrap writes its value; the worker reads it)."
  value       = local.auth_secret_arn
}

output "db_address" {
  description = "Host name of the RDS instance."
  value       = aws_db_instance.this.address
}

output "db_identifier" {
  description = "Identifier of the RDS instance."
  value       = aws_db_instance.this.identifier
}

output "db_final_snapshot_identifier" {
  description = "The snapshot RDS takes when the database is destroyed (\"<identifier>-final-<UTC creation time>\"), null without db_final_snapshot."
  value       = aws_db_instance.this.final_snapshot_identifier
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret RDS manages with the master user's username and password."
  value       = local.master_secret_arn
}

output "service_name" {
  description = "Name of the server's ECS service."
  value       = aws_ecs_service.this.name
}

output "security_group_ids" {
  description = "The chained security groups: alb -> server -> db."
  value = {
    alb    = aws_security_group.alb.id
    server = aws_security_group.server.id
    db     = aws_security_group.db.id
  }
}
