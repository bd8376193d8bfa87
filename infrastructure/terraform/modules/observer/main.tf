data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  rule_name = coalesce(var.rule_name, var.queue_name)
  # The queue's ARN before it exists, so its access policy can go into CreateQueue itself.
  queue_arn = join(":", [
    "arn", data.aws_partition.current.partition, "sqs", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, var.queue_name,
  ])
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

# Redrive and access policy are arguments of the queue, not separate resources: the provider
# waits ~25 s for attributes to propagate after every SetQueueAttributes, so each separate
# resource (aws_sqs_queue_redrive_policy, aws_sqs_queue_policy) added that wait to the apply
# and again to the destroy. One CreateQueue with all attributes waits once.
resource "aws_sqs_queue" "this" {
  name                       = var.queue_name
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  policy = data.aws_iam_policy_document.queue.json

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  name        = local.rule_name
  description = "Forward ECS task state changes of ${var.cluster_arn} to SQS for the Prefect ECS observer"

  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [var.cluster_arn]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "sqs"
  arn       = aws_sqs_queue.this.arn
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "AllowEventBridgeRule"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }
}
