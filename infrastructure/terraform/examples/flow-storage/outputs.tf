output "code_bucket_name" {
  description = "Name of the flow-code bucket (the bucket of push_to_s3 / pull_from_s3 steps)."
  value       = module.storage.code_bucket_name
}

output "results_bucket_name" {
  description = "Name of the flow-results bucket (an S3Bucket block's bucket_name for result storage)."
  value       = module.storage.results_bucket_name
}
