output "log_group_name" {
  description = "Name of the log group (awslogs-group in container definitions)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the log group (without the trailing \":*\")."
  value       = aws_cloudwatch_log_group.this.arn
}
