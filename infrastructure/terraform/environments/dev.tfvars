# Shared development account: one NAT to save cost, short retention.
environment                 = "dev"
region                      = "eu-central-1"
name_prefix                 = "bootstrap"
vpc_cidr                    = "10.20.0.0/16"
az_count                    = 2
nat_mode                    = "single"
log_retention_days          = 14
ecr_force_delete            = true
secret_recovery_window_days = 7

tags = {
  Owner      = "platform-team"
  CostCenter = "engineering"
}
