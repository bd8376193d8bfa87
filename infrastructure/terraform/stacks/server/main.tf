# A Prefect server of the environment's own (optional): the target the worker talks to when
# there is no Prefect Cloud. Inputs are the platform stack's outputs, passed by the flow.
module "server" {
  source = "../../modules/prefect_server"

  name               = "${var.name_prefix}-${var.environment}-server"
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  public_subnet_ids  = var.public_subnet_ids
  cluster_arn        = var.cluster_arn
  log_group_name     = var.log_group_name
  image_uri          = var.image_uri
  cpu_architecture   = var.cpu_architecture
  port               = var.port
  # The secret the worker reads its credential from: server and worker share one value.
  auth_secret_arn = var.auth_secret_arn

  internal        = var.internal
  allowed_cidrs   = length(var.allowed_cidrs) > 0 ? var.allowed_cidrs : [var.vpc_cidr]
  certificate_arn = var.certificate_arn
  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id
  # A zone given by input is known at plan time: alias the name there, else DNS is elsewhere.
  manage_dns_record = var.route53_zone_id != null

  db_port                 = var.db_port
  db_performance_insights = var.db_performance_insights
  group_rule_descriptions = var.group_rule_descriptions
  db_final_snapshot       = var.db_final_snapshot
  db_deletion_protection  = var.db_deletion_protection

  permissions_boundary_arn = var.permissions_boundary_arn
}
