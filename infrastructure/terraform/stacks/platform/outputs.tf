output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  value       = module.network.vpc_cidr
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (one per AZ)."
  value       = module.network.public_subnet_ids
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (one per AZ)."
  value       = module.network.private_subnet_ids
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (empty for nat_mode \"none\")."
  value       = module.network.nat_gateway_ids
}

output "worker_security_group_id" {
  description = "ID of the egress-only security group for the worker and flow-run tasks."
  value       = module.network.worker_security_group_id
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.cluster.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = module.cluster.cluster_arn
}

output "execution_role_arn" {
  description = "ARN of the ECS task execution role."
  value       = module.iam.execution_role_arn
}

output "worker_task_role_arn" {
  description = "ARN of the Prefect worker's task role."
  value       = module.iam.worker_task_role_arn
}

output "flow_run_task_role_arn" {
  description = "ARN of the flow-run task role."
  value       = module.iam.flow_run_task_role_arn
}

output "ecr_repository_name" {
  description = "Name of the worker image ECR repository."
  value       = module.ecr.repository_name
}

output "ecr_repository_url" {
  description = "URL of the worker image ECR repository."
  value       = module.ecr.repository_url
}

output "prefect_api_secret_arn" {
  description = "ARN of the Secrets Manager secret that the flow fills with the Prefect API key (value not managed by Terraform)."
  value       = module.secrets.secret_arn
}

output "log_group_name" {
  description = "Name of the CloudWatch log group for worker and flow-run containers."
  value       = module.logs.log_group_name
}

output "observer_queue_name" {
  description = "Name of the SQS queue receiving ECS task state change events (pass to the work pool)."
  value       = module.observer.queue_name
}

output "observer_queue_url" {
  description = "URL of the observer SQS queue."
  value       = module.observer.queue_url
}

output "observer_queue_arn" {
  description = "ARN of the observer SQS queue."
  value       = module.observer.queue_arn
}

output "observer_dlq_arn" {
  description = "ARN of the observer dead-letter queue."
  value       = module.observer.dlq_arn
}

output "code_bucket_name" {
  description = "Name of the S3 bucket for flow code (push_to_s3 / pull_from_s3 steps, the code-storage block)."
  value       = module.storage.code_bucket_name
}

output "code_bucket_arn" {
  description = "ARN of the flow-code bucket."
  value       = module.storage.code_bucket_arn
}

output "results_bucket_name" {
  description = "Name of the S3 bucket for flow-run results (the result-storage block, the pool's default)."
  value       = module.storage.results_bucket_name
}

output "results_bucket_arn" {
  description = "ARN of the flow-results bucket."
  value       = module.storage.results_bucket_arn
}

output "region" {
  description = "AWS region the stack is deployed in."
  value       = var.region
}

output "ci_role_arn" {
  description = "ARN of the role GitHub workflows assume (AWS_ROLE_ARN in examples/github-actions); null without ci_github_repository."
  value       = one(module.ci[*].role_arn)
}
