data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  # Accept the log group ARN with or without the ":*" suffix the console shows.
  # Log-group-level actions get both forms (IAM matches the log group ARN as
  # "...:log-group:<name>" or "...:log-group:<name>:*" depending on the API).
  log_group_arn     = trimsuffix(var.log_group_arn, ":*")
  log_streams_arn   = "${local.log_group_arn}:log-stream:*"
  log_group_any_arn = "${local.log_group_arn}:*"

  # arn:<partition>:ecs:<region>:<account>:cluster/<name>
  cluster_name         = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1)
  ecs_arn_prefix       = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
  cluster_tasks_arn    = "${local.ecs_arn_prefix}:task/${local.cluster_name}/*"
  task_definitions_arn = "${local.ecs_arn_prefix}:task-definition/*"

  execution_role_name = "${var.name}-execution"
  worker_role_name    = "${var.name}-worker-task"
  flow_run_role_name  = "${var.name}-flow-run-task"

  storage_enabled = var.code_bucket_arn != null || var.results_bucket_arn != null
}

################################################################################
# Shared trust policy: ECS tasks of this account only (confused-deputy guard)
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

################################################################################
# Task execution role (used by the ECS agent: image pull, logs, secrets)
################################################################################

resource "aws_iam_role" "execution" {
  name                 = local.execution_role_name
  description          = "ECS task execution role for the Prefect worker and its flow runs"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  # unrecorded ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer, ecr:BatchGetImage:
  #   the agent's image pull from ECR (manifest and layers). The embedded default pulls
  #   from the registry standing in for ECR's endpoint, which the emulated AWS never sees;
  #   only the token (ecr:GetAuthorizationToken) is recorded.
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "ReadPrefectApiSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arn]
  }

  statement {
    sid       = "CreateLogGroup"
    actions   = ["logs:CreateLogGroup"]
    resources = [local.log_group_arn, local.log_group_any_arn]
  }

  statement {
    sid = "WriteContainerLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [local.log_streams_arn]
  }

  dynamic "statement" {
    for_each = var.secret_kms_key_arn == null ? [] : [var.secret_kms_key_arn]
    content {
      # unrecorded kms:Decrypt: only with secret_kms_key_arn, when the agent reads a secret
      #   encrypted with a customer-managed key; the embedded default's secret uses none.
      sid       = "DecryptSecretKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "secrets-and-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

################################################################################
# Flow-run task role (assumed by the flow code itself; minimal by default)
################################################################################

resource "aws_iam_role" "flow_run" {
  name                 = local.flow_run_role_name
  description          = "Task role of Prefect flow-run containers"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_run" {
  # unrecorded logs:DescribeLogStreams, logs:CreateLogStream, logs:PutLogEvents: only for
  #   flow code that writes to the pool's log group itself (a CloudWatch logging handler).
  #   No flow bootstrap runs does: a flow run's output reaches CloudWatch through the
  #   awslogs driver, under the execution role. Kept on purpose: a user's flow may ship
  #   structured lines of its own to the pool's log group, and only to its streams.
  statement {
    sid       = "DescribeOwnLogStreams"
    actions   = ["logs:DescribeLogStreams"]
    resources = [local.log_group_arn, local.log_group_any_arn]
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [local.log_streams_arn]
  }
}

resource "aws_iam_role_policy" "flow_run" {
  name   = "logs"
  role   = aws_iam_role.flow_run.id
  policy = data.aws_iam_policy_document.flow_run.json
}

# The flow-code and flow-results buckets: code is read (pull_from_s3 lists, then gets), results
# are read and written (Prefect's result storage). Nothing else in S3, and only these buckets.
data "aws_iam_policy_document" "flow_run_storage" {
  count = local.storage_enabled ? 1 : 0

  dynamic "statement" {
    for_each = var.code_bucket_arn == null ? [] : [var.code_bucket_arn]
    content {
      sid       = "ListCode"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.code_bucket_arn == null ? [] : [var.code_bucket_arn]
    content {
      sid       = "ReadCode"
      actions   = ["s3:GetObject"]
      resources = ["${statement.value}/*"]
    }
  }

  # Listing lets a missing result answer 404 instead of 403.
  dynamic "statement" {
    for_each = var.results_bucket_arn == null ? [] : [var.results_bucket_arn]
    content {
      sid       = "ListResults"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.results_bucket_arn == null ? [] : [var.results_bucket_arn]
    content {
      # unrecorded s3:AbortMultipartUpload: only when a multipart upload of a large result
      #   fails half-way; the test flows' results are small single PUTs.
      sid = "ReadWriteResults"
      actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
      ]
      resources = ["${statement.value}/*"]
    }
  }
}

resource "aws_iam_role_policy" "flow_run_storage" {
  count = local.storage_enabled ? 1 : 0

  name   = "storage"
  role   = aws_iam_role.flow_run.id
  policy = data.aws_iam_policy_document.flow_run_storage[0].json
}

resource "aws_iam_role_policy_attachment" "flow_run_extra" {
  for_each = toset(var.flow_run_managed_policy_arns)

  role       = aws_iam_role.flow_run.name
  policy_arn = each.value
}

################################################################################
# Worker task role (the prefect-aws ECS worker process)
################################################################################

resource "aws_iam_role" "worker" {
  name                 = local.worker_role_name
  description          = "Task role of the Prefect ECS worker: launches and observes flow-run tasks"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "worker" {
  # RegisterTaskDefinition addresses the task definition it creates (the IAM
  # Service Authorization Reference lists task-definition* for it), so it gets
  # the account's task definitions in this region, not "*" (parliament's
  # RESOURCE_STAR, tests/integration/test_iam_policies.py).
  statement {
    sid       = "RegisterTaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = [local.task_definitions_arn]
  }

  # unrecorded ecs:DeregisterTaskDefinition: only when the pool sets
  #   auto_deregister_task_definition: the ECS observer deregisters a stopped task's
  #   definition (tag prefect.io/degregister-task-definition); bootstrap's pool keeps them.
  # Not granted: ecs:ListTaskDefinitions (prefect-aws 0.7.12 never calls it; the worker
  #   matches definitions with DescribeTaskDefinition).
  # DeregisterTaskDefinition and DescribeTaskDefinition
  # support no resource-level permissions (no resource type in the reference),
  # so "*" is required. Scoped to this region via aws:RequestedRegion.
  statement {
    sid = "ManageTaskDefinitions"
    actions = [
      "ecs:DeregisterTaskDefinition",
      "ecs:DescribeTaskDefinition",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # RunTask's resource is the task definition; the ecs:cluster condition key
  # pins it to our cluster.
  statement {
    sid       = "RunTasksInCluster"
    actions   = ["ecs:RunTask"]
    resources = [local.task_definitions_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  # unrecorded ecs:StopTask: only when a run is cancelled before its task started the flow
  #   (the worker stops the task); a running flow is cancelled by the engine in its task.
  statement {
    sid = "ManageTasksInCluster"
    actions = [
      "ecs:StopTask",
      "ecs:DescribeTasks",
    ]
    resources = [local.cluster_tasks_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  # Needed when RunTask/RegisterTaskDefinition carry tags (tag-on-create).
  statement {
    sid     = "TagTasksAndTaskDefinitions"
    actions = ["ecs:TagResource"]
    resources = [
      local.cluster_tasks_arn,
      local.task_definitions_arn,
    ]
  }

  # unrecorded ecs:DescribeClusters: prefect-aws's `ecs-worker` deploy CLI checks the
  #   cluster with it; the worker itself never calls it.
  statement {
    sid       = "DescribeCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [var.cluster_arn]
  }

  # Not granted: ec2:DescribeSecurityGroups (prefect-aws 0.7.12 looks up VPCs and subnets
  #   only; the pool names its security group).
  # EC2 Describe* actions do not support resource-level permissions; "*" is
  # required. Restricted to this region with aws:RequestedRegion.
  statement {
    sid = "DescribeNetwork"
    actions = [
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # Not granted: logs:CreateLogGroup, logs:DescribeLogStreams (prefect-aws 0.7.12's worker
  #   calls neither: the ECS agent creates the group under the execution role, and the
  #   observer reads a crashed run's lines with GetLogEvents).
  statement {
    sid       = "ReadFlowRunLogs"
    actions   = ["logs:GetLogEvents"]
    resources = [local.log_streams_arn]
  }

  statement {
    sid     = "PassTaskRoles"
    actions = ["iam:PassRole"]
    resources = [
      aws_iam_role.execution.arn,
      aws_iam_role.flow_run.arn,
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # unrecorded sqs:ChangeMessageVisibility: only when the ECS observer fails to handle an
  #   event: it makes the message visible again to retry it.
  # Not granted: sqs:GetQueueAttributes (prefect-aws 0.7.12's observer never calls it).
  statement {
    sid = "ConsumeTaskStateEvents"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueUrl",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.observer_queue_arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "prefect-ecs-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

################################################################################
# Exclusive ownership: each role has exactly the policies above
################################################################################

# A policy attached to (or put inline on) one of these roles outside Terraform is drift, and
# the next apply removes it. Each list names the companion resources above, so these run after
# them and never race them; a policy added here must also be added to its list. Deleting these
# resources leaves the policies in place (their destroy is a no-op); the roles' own destroy
# detaches them.

resource "aws_iam_role_policy_attachments_exclusive" "execution" {
  role_name   = aws_iam_role.execution.name
  policy_arns = [aws_iam_role_policy_attachment.execution_managed.policy_arn]
}

resource "aws_iam_role_policies_exclusive" "execution" {
  role_name    = aws_iam_role.execution.name
  policy_names = [aws_iam_role_policy.execution.name]
}

resource "aws_iam_role_policy_attachments_exclusive" "flow_run" {
  role_name   = aws_iam_role.flow_run.name
  policy_arns = [for attachment in aws_iam_role_policy_attachment.flow_run_extra : attachment.policy_arn]
}

resource "aws_iam_role_policies_exclusive" "flow_run" {
  role_name    = aws_iam_role.flow_run.name
  policy_names = concat([aws_iam_role_policy.flow_run.name], aws_iam_role_policy.flow_run_storage[*].name)
}

resource "aws_iam_role_policy_attachments_exclusive" "worker" {
  role_name   = aws_iam_role.worker.name
  policy_arns = []
}

resource "aws_iam_role_policies_exclusive" "worker" {
  role_name    = aws_iam_role.worker.name
  policy_names = [aws_iam_role_policy.worker.name]
}
