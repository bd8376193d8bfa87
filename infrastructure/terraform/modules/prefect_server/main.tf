data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  container_name = "prefect-server"
  port           = var.port
  db_name        = "prefect"
  db_username    = "prefect"
  # Either a certificate the user gives, or one ACM issues for domain_name (DNS-validated in
  # the user's Route 53 zone).
  issue_certificate = var.certificate_arn == null
  certificate_arn   = local.issue_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
  host              = var.domain_name != null ? var.domain_name : aws_lb.this.dns_name
  master_secret_arn = aws_db_instance.this.master_user_secret[0].secret_arn
  # The auth string lives in a secret the caller gives (bootstrap: the one its worker reads, so
  # both sides always hold the same value) or in one this module makes.
  create_auth_secret = var.auth_secret_arn == null
  auth_secret_arn    = local.create_auth_secret ? aws_secretsmanager_secret.auth[0].arn : var.auth_secret_arn
}

################################################################################
# Security groups: ALB -> server -> database, and nothing else
################################################################################

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "HTTPS to the Prefect server's load balancer"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.allowed_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_server" {
  security_group_id            = aws_security_group.alb.id
  description                  = var.group_rule_descriptions ? "To the Prefect server tasks only" : null
  referenced_security_group_id = aws_security_group.server.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_security_group" "server" {
  name        = "${var.name}-server"
  description = "Prefect server tasks: from the ALB in, to the database and AWS APIs out"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "server_from_alb" {
  security_group_id            = aws_security_group.server.id
  description                  = var.group_rule_descriptions ? "API and UI from the load balancer only" : null
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "server_to_db" {
  security_group_id            = aws_security_group.server.id
  description                  = var.group_rule_descriptions ? "PostgreSQL" : null
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
}

resource "aws_vpc_security_group_egress_rule" "server_https" {
  security_group_id = aws_security_group.server.id
  description       = "HTTPS to AWS APIs (ECR pull, Secrets Manager, CloudWatch Logs) through NAT"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "The Prefect server's PostgreSQL: from the server tasks only, no egress"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_server" {
  security_group_id            = aws_security_group.db.id
  description                  = var.group_rule_descriptions ? "PostgreSQL from the Prefect server tasks" : null
  referenced_security_group_id = aws_security_group.server.id
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
}

################################################################################
# Database: RDS PostgreSQL 16, password managed by RDS in Secrets Manager
################################################################################

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
  tags       = var.tags
}

# The final snapshot's name, unique per database: a second teardown of a re-created database
# must not reuse the first one's name (RDS refuses a snapshot identifier that exists). Made
# once, when the database is, and kept in state (ignore_changes): no drift on later plans.
# Replaced with the database when an input that replaces the instance changes.
resource "terraform_data" "final_snapshot_suffix" {
  input            = formatdate("YYYYMMDDhhmmss", plantimestamp())
  triggers_replace = [var.name, var.db_kms_key_arn]

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs its own IAM role and costs per instance; CloudWatch's standard RDS metrics cover a Prefect server's database. Enable it in the module if you need OS metrics.
  #checkov:skip=CKV_AWS_161:IAM database authentication is not supported by Prefect's asyncpg connection URL; the password is managed and rotated by RDS in Secrets Manager instead.
  #checkov:skip=CKV_AWS_157:Multi-AZ doubles the instance cost; it is the db_multi_az switch (off by default: one task runs the server anyway).
  #checkov:skip=CKV_AWS_293:Deletion protection is on by default (db_deletion_protection); only callers that throw an environment away whole (examples, the emulator) turn it off.
  #checkov:skip=CKV2_AWS_30:Query logging is off to keep flow-run data out of CloudWatch; turn on log_statement in a parameter group if you need it.
  identifier                  = var.name
  engine                      = "postgres"
  engine_version              = var.postgres_version
  instance_class              = var.db_instance_class
  allocated_storage           = var.db_allocated_storage
  storage_type                = "gp3"
  storage_encrypted           = true
  kms_key_id                  = var.db_kms_key_arn
  port                        = var.db_port
  db_name                     = local.db_name
  username                    = local.db_username
  manage_master_user_password = true
  db_subnet_group_name        = aws_db_subnet_group.this.name
  vpc_security_group_ids      = [aws_security_group.db.id]
  publicly_accessible         = false
  multi_az                    = var.db_multi_az
  backup_retention_period     = var.db_backup_retention_days
  copy_tags_to_snapshot       = true
  auto_minor_version_upgrade  = true
  deletion_protection         = var.db_deletion_protection
  skip_final_snapshot         = !var.db_final_snapshot
  final_snapshot_identifier   = var.db_final_snapshot ? "${var.name}-final-${terraform_data.final_snapshot_suffix.output}" : null

  performance_insights_enabled    = var.db_performance_insights
  performance_insights_kms_key_id = var.db_performance_insights ? var.db_kms_key_arn : null
  enabled_cloudwatch_logs_exports = ["postgresql"]

  tags = var.tags
}

################################################################################
# The server's basic-auth string: a secret whose value bootstrap writes (never Terraform)
################################################################################

resource "aws_secretsmanager_secret" "auth" {
  count = local.create_auth_secret ? 1 : 0

  #checkov:skip=CKV2_AWS_57:The auth string is shared by the server and every worker; rotate it by re-running bootstrap, which writes a new value and rolls both.
  name                    = "${var.name}/auth-string"
  description             = "Basic-auth string user:password of the Prefect server; the server and the workers read it."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = var.secrets_kms_key_arn
  tags                    = var.tags
}

################################################################################
# Load balancer: HTTPS only
################################################################################

resource "aws_acm_certificate" "this" {
  count = local.issue_certificate ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.issue_certificate ? {
    for option in aws_acm_certificate.this[0].domain_validation_options : option.domain_name => option
  } : {}

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 60
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local.issue_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need an S3 bucket with a bucket policy for the regional ELB account; opt in with your own bucket.
  #checkov:skip=CKV_AWS_150:The load balancer holds no data and teardown must be able to remove it; alb_deletion_protection turns protection on.
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is a per-organisation choice (and cost); associate one with the ALB if it is internet-facing.
  name                       = var.name
  internal                   = var.internal
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.internal ? var.private_subnet_ids : var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  tags                       = var.tags

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null || (var.domain_name != null && var.route53_zone_id != null)
      error_message = "Give certificate_arn, or domain_name and route53_zone_id so ACM can issue and DNS-validate a certificate."
    }
    precondition {
      condition     = var.internal || length(var.public_subnet_ids) >= 2
      error_message = "An internet-facing load balancer (internal = false) needs at least two public_subnet_ids."
    }
  }
}

resource "aws_lb_target_group" "this" {
  name        = var.name
  port        = local.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/api/health"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_route53_record" "alias" {
  # Decided by plain inputs: the zone may be created in the same apply (unknown until then).
  count = var.domain_name != null && var.manage_dns_record ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  lifecycle {
    precondition {
      condition     = var.route53_zone_id != null
      error_message = "manage_dns_record needs route53_zone_id (or set manage_dns_record = false and point domain_name at alb_dns_name yourself)."
    }
  }

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

################################################################################
# The server task: API and background services in one task
################################################################################

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The ECS agent's role for this task: pull the image, write logs, read exactly two secrets.
resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role = aws_iam_role.execution.name
  # AWS's managed policy, in the partition's own ARN (aws-us-gov, aws-cn have theirs).
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "secrets" {
  statement {
    sid       = "ReadServerSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.master_secret_arn, local.auth_secret_arn]
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [var.secrets_kms_key_arn]
    content {
      sid       = "DecryptSecretKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "secrets" {
  name   = "read-server-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.secrets.json
}

# The server itself calls no AWS API: its task role grants nothing.
resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:Prefect's server writes to $HOME/.prefect and /tmp (the UI build, PREFECT_UI_STATIC_DIRECTORY; profiles); the container runs as the image's non-root user.
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = var.image_uri
      essential = true
      memory    = var.memory
      command   = ["prefect", "server", "start", "--host", "0.0.0.0", "--port", tostring(local.port)]
      portMappings = [
        { containerPort = local.port, protocol = "tcp" },
      ]
      environment = [
        for name, value in {
          PREFECT_SERVER_DATABASE_DRIVER   = "postgresql+asyncpg"
          PREFECT_SERVER_DATABASE_HOST     = aws_db_instance.this.address
          PREFECT_SERVER_DATABASE_PORT     = tostring(aws_db_instance.this.port)
          PREFECT_SERVER_DATABASE_NAME     = local.db_name
          PREFECT_UI_API_URL               = "https://${local.host}/api"
          PREFECT_SERVER_ANALYTICS_ENABLED = "false"
          # The image's non-root user cannot write into site-packages, where Prefect builds the
          # UI by default; without this the server runs with no UI.
          PREFECT_UI_STATIC_DIRECTORY = "/tmp/prefect-ui"
        } : { name = name, value = value }
      ]
      # Credentials come from Secrets Manager through ECS, never as plain environment.
      secrets = [
        { name = "PREFECT_SERVER_DATABASE_USER", valueFrom = "${local.master_secret_arn}:username::" },
        { name = "PREFECT_SERVER_DATABASE_PASSWORD", valueFrom = "${local.master_secret_arn}:password::" },
        { name = "PREFECT_SERVER_API_AUTH_STRING", valueFrom = local.auth_secret_arn },
      ]
      readonlyRootFilesystem = false
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "server"
        }
      }
    },
  ])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                   = var.name
  cluster                = var.cluster_arn
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = 1
  launch_type            = "FARGATE"
  enable_execute_command = false
  # One task runs the API and the background services (scheduler, late-run marker, ...):
  # a second copy would run the services twice. See README, Scaling.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.server.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags

  depends_on = [aws_lb_listener.https]

  lifecycle {
    # moto does not store it; real ECS reports its default.
    ignore_changes = [availability_zone_rebalancing]
  }
}
