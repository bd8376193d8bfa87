# Production: NAT per AZ (no cross-AZ single point of failure), longer
# retention, images and secrets protected from accidental deletion.
environment                 = "prod"
region                      = "eu-central-1"
name_prefix                 = "bootstrap"
vpc_cidr                    = "10.30.0.0/16"
az_count                    = 3
nat_mode                    = "per_az"
log_retention_days          = 90
enable_flow_logs            = true
ecr_force_delete            = false
secret_recovery_window_days = 30

tags = {
  Owner      = "platform-team"
  CostCenter = "engineering"
}
