output "vpc_id" {
  description = "ID of the example VPC."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ, sharing one NAT gateway."
  value       = module.network.private_subnet_ids
}

output "worker_security_group_id" {
  description = "Egress-only security group for the worker and flow-run tasks."
  value       = module.network.worker_security_group_id
}
