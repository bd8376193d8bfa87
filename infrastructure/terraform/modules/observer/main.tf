locals {
  rule_name = coalesce(var.rule_name, var.queue_name)
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = var.queue_name
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true

  tags = var.tags

  lifecycle {
    # The redrive policy is owned by aws_sqs_queue_redrive_policy.this below.
    # The queue's computed copy is re-normalised by the provider on every plan,
    # which shows a whitespace-only diff when the API (moto) returns spaced JSON.
    ignore_changes = [redrive_policy]
  }
}

# Separate resource instead of the inline redrive_policy argument: its read
# keeps the configured JSON when the API returns an equivalent document, so
# emulators that re-format JSON (moto adds spaces) do not cause a perpetual diff.
resource "aws_sqs_queue_redrive_policy" "this" {
  queue_url = aws_sqs_queue.this.id

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
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
    resources = [aws_sqs_queue.this.arn]

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

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue.json

  # Set the access policy after the redrive policy. Real SQS only changes the
  # attributes passed to SetQueueAttributes, but moto (5.x) clears the queue
  # policy on every SetQueueAttributes call that omits Policy.
  depends_on = [aws_sqs_queue_redrive_policy.this]
}
