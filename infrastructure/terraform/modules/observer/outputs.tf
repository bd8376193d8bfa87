output "queue_name" {
  description = "Name of the event queue (set it as the observer queue name of the work pool / worker)."
  value       = aws_sqs_queue.this.name
}

output "queue_url" {
  description = "URL of the event queue."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the event queue."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "rule_name" {
  description = "Name of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.name
}

output "rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.arn
}
