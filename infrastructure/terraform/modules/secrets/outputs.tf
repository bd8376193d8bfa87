output "secret_arn" {
  description = "ARN of the secret (referenced by the execution role policy and by ECS container definitions)."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret."
  value       = aws_secretsmanager_secret.this.name
}

output "secret_id" {
  description = "ID of the secret (same as the ARN); pass it to boto3 put_secret_value."
  value       = aws_secretsmanager_secret.this.id
}
