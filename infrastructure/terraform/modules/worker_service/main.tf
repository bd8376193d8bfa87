data "aws_region" "current" {}

locals {
  region         = coalesce(var.region, data.aws_region.current.name)
  container_name = "prefect-worker"

  # Valid task memory (MiB) per Fargate CPU size, as documented by AWS (the
  # bootstrap settings use the same table).
  fargate_memory = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }

  health_check_port = 8080

  # Plain (non-secret) environment of the worker container. The credential is
  # NOT here: it is injected from Secrets Manager through `secrets` below.
  base_environment = {
    PREFECT_API_URL = var.prefect_api_url
    # Read by the image entrypoint when it is started without a command; the
    # explicit command below passes the pool as well.
    PREFECT_WORK_POOL = var.work_pool_name
    # prefect-aws (0.7.12) reads its ECS observer settings from
    # PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_* (prefect_aws/settings.py,
    # EcsObserverSqsSettings). Unset, the observer polls a queue named
    # "prefect-ecs-tasks-events" in the default region.
    PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_NAME   = var.observer_queue_name
    PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_REGION = local.region
    # How soon a scheduled run is picked up: on average half this interval.
    PREFECT_WORKER_QUERY_SECONDS = tostring(var.query_seconds)
  }

  # `prefect worker start --with-healthcheck` serves GET /health: 200 while the
  # worker polls its pool (or within 30 poll intervals of its start), else 503.
  # Bound to loopback: only the container health check calls it.
  health_check_environment = var.enable_health_check ? {
    PREFECT_WORKER_WEBSERVER_HOST = "127.0.0.1"
    PREFECT_WORKER_WEBSERVER_PORT = tostring(local.health_check_port)
  } : {}

  environment = merge(var.extra_environment, local.base_environment, local.health_check_environment)

  # Autoscaling never applies to a parked worker (desired_count 0): a scalable
  # target with min >= 1 would start it again. The range is widened to contain
  # desired_count, so the count each apply sets is always a valid capacity.
  autoscaling_enabled = var.enable_autoscaling && var.desired_count > 0
  autoscaling_min     = min(var.autoscaling_min, var.desired_count)
  autoscaling_max     = max(var.autoscaling_max, var.desired_count)

  # With autoscaling the service may legitimately run as few as its minimum;
  # without it, exactly desired_count.
  expected_running_tasks = local.autoscaling_enabled ? local.autoscaling_min : var.desired_count

  alarm_dimensions = {
    ClusterName = var.cluster_name
    ServiceName = aws_ecs_service.this.name
  }

  alarms = var.enable_alarms ? merge(
    {
      "cpu-high" = {
        description         = "Average CPU of ECS service ${var.name} above ${var.cpu_alarm_threshold}% for ${var.alarm_evaluation_periods} x 5 minutes."
        namespace           = "AWS/ECS"
        metric_name         = "CPUUtilization"
        statistic           = "Average"
        period              = 300
        comparison_operator = "GreaterThanThreshold"
        threshold           = var.cpu_alarm_threshold
        treat_missing_data  = "notBreaching"
      }
      "memory-high" = {
        description         = "Average memory of ECS service ${var.name} above ${var.memory_alarm_threshold}% for ${var.alarm_evaluation_periods} x 5 minutes."
        namespace           = "AWS/ECS"
        metric_name         = "MemoryUtilization"
        statistic           = "Average"
        period              = 300
        comparison_operator = "GreaterThanThreshold"
        threshold           = var.memory_alarm_threshold
        treat_missing_data  = "notBreaching"
      }
    },
    # Nothing to watch when the worker is parked at 0 tasks.
    local.expected_running_tasks > 0 ? {
      "running-tasks-low" = {
        description         = "ECS service ${var.name} runs fewer than ${local.expected_running_tasks} task(s) for ${var.alarm_evaluation_periods} minutes (Container Insights metric; missing data counts as breaching)."
        namespace           = "ECS/ContainerInsights"
        metric_name         = "RunningTaskCount"
        statistic           = "Average"
        period              = 60
        comparison_operator = "LessThanThreshold"
        threshold           = local.expected_running_tasks
        treat_missing_data  = "breaching"
      }
    } : {},
  ) : {}
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:The Prefect worker writes to $HOME/.prefect (profiles, local storage) and /tmp at run time; a read-only root filesystem breaks it. The container runs as the image's non-root user 10001.
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = var.image_uri
      essential = true
      # Container-level hard limit equal to the task size (moto's RunTask
      # needs it; on Fargate it is redundant but harmless).
      memory = var.memory
      # Explicit, so the service does not depend on the image's default
      # command. The worker image pins prefect-aws: never install at start.
      command = concat(
        [
          "prefect", "worker", "start",
          "--pool", var.work_pool_name,
          "--type", "ecs",
          "--install-policy", "never",
        ],
        var.enable_health_check ? ["--with-healthcheck"] : [],
      )
      environment = [
        for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }
      ]
      secrets = [
        { name = var.api_secret_env_name, valueFrom = var.prefect_api_secret_arn },
      ]
      # A worker that stops polling (or exits before it is healthy) is
      # replaced, and counts as a failed task for the circuit breaker. All
      # fields are set, so the API's defaults never show up as a diff.
      healthCheck = var.enable_health_check ? {
        command = [
          "CMD", "python", "-c",
          "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.health_check_port}/health', timeout=4)",
        ]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      } : null
      readonlyRootFilesystem = false
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = local.region
          awslogs-stream-prefix = var.log_stream_prefix
        }
      }
    },
  ])

  tags = var.tags

  lifecycle {
    # Register the new revision and point the service at it before the old
    # revision is deregistered.
    create_before_destroy = true

    precondition {
      condition     = contains(local.fargate_memory[tostring(var.cpu)], var.memory)
      error_message = "memory ${var.memory} MiB is not a valid Fargate size for cpu ${var.cpu}; valid: ${join(", ", [for m in local.fargate_memory[tostring(var.cpu)] : tostring(m)])}."
    }
  }
}

################################################################################
# Service
################################################################################

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.desired_count

  launch_type      = length(var.capacity_provider_strategy) == 0 ? "FARGATE" : null
  platform_version = var.platform_version

  dynamic "capacity_provider_strategy" {
    for_each = var.capacity_provider_strategy
    content {
      capacity_provider = capacity_provider_strategy.value.capacity_provider
      weight            = capacity_provider_strategy.value.weight
      base              = capacity_provider_strategy.value.base
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # Default 100/200: a new worker starts before the old one is stopped, so the
  # pool never goes without a worker during a deploy; two workers on one pool
  # for a moment are safe (Prefect hands each flow run to one worker only).
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Set explicitly: left unset, provider 5.100 shows a one-time diff after
  # create (the API now defaults new services to ENABLED). With one task there
  # is nothing to rebalance; with several it spreads them across AZs again.
  availability_zone_rebalancing = "ENABLED"
  propagate_tags                = "SERVICE"
  enable_ecs_managed_tags       = true
  enable_execute_command        = false
  wait_for_steady_state         = false

  tags = var.tags

  lifecycle {
    # Both are constants here, sent with CreateService. moto (5.2) does not
    # store or return them, so without this every plan after apply would show
    # them as changes. On AWS this only stops Terraform from reverting console
    # edits of these two settings.
    ignore_changes = [availability_zone_rebalancing, enable_ecs_managed_tags]

    precondition {
      condition     = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1) == var.cluster_name
      error_message = "cluster_name must be the name of the cluster in cluster_arn."
    }

    precondition {
      condition     = var.autoscaling_min <= var.autoscaling_max
      error_message = "autoscaling_min must not be greater than autoscaling_max."
    }
  }
}

################################################################################
# Autoscaling (optional)
################################################################################

resource "aws_appautoscaling_target" "this" {
  count = local.autoscaling_enabled ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = local.autoscaling_min
  max_capacity       = local.autoscaling_max

  tags = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  count = local.autoscaling_enabled ? 1 : 0

  name               = "${var.name}-cpu-target-tracking"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }

    target_value       = var.autoscaling_cpu_target
    scale_in_cooldown  = var.autoscaling_scale_in_cooldown
    scale_out_cooldown = var.autoscaling_scale_out_cooldown
  }
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = local.alarm_dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  treat_missing_data  = each.value.treat_missing_data

  alarm_actions = var.alarm_sns_topic_arns
  ok_actions    = var.alarm_sns_topic_arns

  tags = var.tags
}
