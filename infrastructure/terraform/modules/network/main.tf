data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count names of the provider's sorted list are used, so a newly added AZ (next letter) does not move existing subnets; callers who need a closed set pass var.availability_zones.
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_region" "current" {}

locals {
  azs = slice(
    var.availability_zones != null ? var.availability_zones : data.aws_availability_zones.available.names,
    0,
    var.az_count,
  )

  # Stable CIDR layout: public subnets take netnums 0..5, private subnets 8..13,
  # so growing az_count later never renumbers an existing subnet.
  public_subnet_cidrs  = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, var.subnet_newbits, i)]
  private_subnet_cidrs = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, var.subnet_newbits, i + 8)]

  nat_count = var.nat_mode == "none" ? 0 : (var.nat_mode == "single" ? 1 : var.az_count)
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs are opt-in (var.enable_flow_logs, default off) to keep ephemeral/emulated environments cheap; prod.tfvars enables them.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # required for awsvpc Fargate tasks (and VPC endpoints)

  tags = merge(var.tags, { Name = "${var.name}-vpc" })

  lifecycle {
    precondition {
      condition     = length(var.availability_zones != null ? var.availability_zones : data.aws_availability_zones.available.names) >= var.az_count
      error_message = "az_count is larger than the number of availability zones available in ${data.aws_region.current.name}."
    }

    precondition {
      condition     = tonumber(split("/", var.vpc_cidr)[1]) + var.subnet_newbits <= 28
      error_message = "vpc_cidr prefix length + subnet_newbits must not exceed 28 (the smallest subnet AWS allows is /28)."
    }
  }
}

# Lock down the VPC's default security group: managing it without any rule
# removes the default allow-all rules (CKV2_AWS_12).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-igw" })
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.public_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]
  # Tasks get public IPs explicitly (assignPublicIp) when needed; nothing is
  # auto-assigned a public address (CKV_AWS_130).
  map_public_ip_on_launch = false

  tags = merge(var.tags, {
    Name = "${var.name}-public-${local.azs[count.index]}"
    Tier = "public"
  })
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, {
    Name = "${var.name}-private-${local.azs[count.index]}"
    Tier = "private"
  })
}

################################################################################
# NAT
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Routing
################################################################################

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route" "private_nat" {
  count = local.nat_count > 0 ? var.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.nat_mode == "single" ? 0 : count.index].id
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

################################################################################
# Worker security group (egress only)
################################################################################

resource "aws_security_group" "worker" {
  #checkov:skip=CKV2_AWS_5:Attached outside this stack: the Prefect worker ECS service and the flow-run tasks it launches reference it via the work pool network configuration.
  name        = "${var.name}-worker"
  description = "Prefect ECS worker and flow-run tasks: egress only, no ingress"
  vpc_id      = aws_vpc.this.id

  # Nothing connects to the worker. `ingress = []` (not just no block) makes Terraform own the
  # empty set: a rule added outside Terraform is drift, and the next apply removes it. The
  # egress blocks own their set the same way. Never add aws_vpc_security_group_*_rule
  # resources for this group: they would fight over the same rules.
  ingress = []

  egress {
    description = "HTTPS: Prefect API, ECR, CloudWatch Logs, Secrets Manager, ECS, SQS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  dynamic "egress" {
    for_each = var.allow_http_egress ? [1] : []
    content {
      description = "HTTP: package mirrors and redirects used by flow code"
      from_port   = 80
      to_port     = 80
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }

  egress {
    description = "DNS (TCP) to resolvers inside the VPC"
    from_port   = 53
    to_port     = 53
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "DNS (UDP) to resolvers inside the VPC"
    from_port   = 53
    to_port     = 53
    protocol    = "udp"
    cidr_blocks = [var.vpc_cidr]
  }

  dynamic "egress" {
    for_each = var.worker_extra_egress_rules
    content {
      description = egress.value.description
      from_port   = egress.value.port
      to_port     = egress.value.port
      protocol    = "tcp"
      cidr_blocks = egress.value.cidr_blocks
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-worker" })

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Optional VPC flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_logs_retention_days
  kms_key_id        = var.flow_logs_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  count = var.enable_flow_logs ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs[0].arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  name                 = "${var.name}-vpc-flow-logs"
  assume_role_policy   = data.aws_iam_policy_document.flow_logs_assume[0].json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}

# The flow-logs role has exactly its one inline policy and no managed policy (see modules/iam).
resource "aws_iam_role_policy_attachments_exclusive" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  role_name   = aws_iam_role.flow_logs[0].name
  policy_arns = []
}

resource "aws_iam_role_policies_exclusive" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  role_name    = aws_iam_role.flow_logs[0].name
  policy_names = [aws_iam_role_policy.flow_logs[0].name]
}

resource "aws_flow_log" "this" {
  count = var.enable_flow_logs ? 1 : 0

  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs[0].arn
  iam_role_arn         = aws_iam_role.flow_logs[0].arn

  tags = merge(var.tags, { Name = "${var.name}-flow-logs" })
}
