output "vpc_id" {
  description = "ID of the example VPC."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ, each with its own NAT gateway."
  value       = module.network.private_subnet_ids
}

output "nat_gateway_ids" {
  description = "One NAT gateway per AZ."
  value       = module.network.nat_gateway_ids
}

output "cluster_arn" {
  description = "ARN of the example ECS cluster."
  value       = module.cluster.cluster_arn
}

output "repository_name" {
  description = "Name of the example ECR repository (not force-deletable)."
  value       = module.ecr.repository_name
}
