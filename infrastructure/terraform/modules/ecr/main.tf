resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:AES256 (AWS-owned key) is the default to avoid per-environment KMS cost; set encryption_type = "KMS" (optionally with kms_key_arn) where a CMK is required.
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = var.encryption_type
    kms_key         = var.encryption_type == "KMS" ? var.kms_key_arn : null
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        # Images built FROM the worker image for users' flows (examples/github-actions pushes
        # `flows-<sha>`) get their own count: without it, enough flow pushes would expire the
        # worker image the service runs. An image matched here is never seen by the rule below.
        rulePriority = 2
        description  = "Keep only the last ${var.keep_last_flow_images} flow images (tags flows-*)"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = [var.flow_image_tag_prefix]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_last_flow_images
        }
        action = { type = "expire" }
      },
      {
        # A rule with tagStatus "any" must have the highest rulePriority.
        rulePriority = 3
        description  = "Keep only the last ${var.keep_last_images} other images (the worker image)"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.keep_last_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
