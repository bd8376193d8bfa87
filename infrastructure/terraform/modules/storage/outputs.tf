output "code_bucket_name" {
  description = "Name of the flow-code bucket (push_to_s3 / pull_from_s3 steps, the code-storage block)."
  value       = aws_s3_bucket.this["code"].id
}

output "code_bucket_arn" {
  description = "ARN of the flow-code bucket."
  value       = aws_s3_bucket.this["code"].arn
}

output "results_bucket_name" {
  description = "Name of the flow-results bucket (the result-storage block)."
  value       = aws_s3_bucket.this["results"].id
}

output "results_bucket_arn" {
  description = "ARN of the flow-results bucket."
  value       = aws_s3_bucket.this["results"].arn
}
