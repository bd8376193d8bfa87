# Local / CI: moto server. Keep it small and fully disposable.
environment                 = "local"
region                      = "us-east-1"
name_prefix                 = "bootstrap"
vpc_cidr                    = "10.42.0.0/16"
az_count                    = 2
nat_mode                    = "single"
log_retention_days          = 1
ecr_force_delete            = true
secret_recovery_window_days = 0
aws_endpoint_url            = "http://127.0.0.1:5011"

tags = {
  Owner = "local"
}
