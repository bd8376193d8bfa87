data "aws_partition" "current" {}

locals {
  # GitHub's OIDC issuer; IAM names its condition keys after it (<issuer>:aud, <issuer>:sub).
  issuer = "token.actions.githubusercontent.com"
  # What aws-actions/configure-aws-credentials asks GitHub to put in the token's `aud`.
  audience = "sts.${data.aws_partition.current.dns_suffix}"
  # The token's `sub`: for a job of a push to that branch, or, with github_environment, for a
  # job that names that GitHub environment (GitHub then puts the environment in `sub` instead
  # of the branch; the environment's deployment-branch rule keeps it to github_branch).
  subject = (
    var.github_environment == null
    ? "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}"
    : "repo:${var.github_repository}:environment:${var.github_environment}"
  )

  oidc_provider_arn = (
    var.oidc_provider_arn != null ? var.oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
  )
}

################################################################################
# GitHub Actions as an OIDC identity provider (at most one per URL in an account)
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.oidc_provider_arn == null ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = [local.audience]
  # No thumbprint_list: IAM verifies GitHub's certificate with its own trusted CAs.

  tags = var.tags
}

################################################################################
# The CI role: assumable only by workflow runs of one repository on one branch
################################################################################

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = var.github_environment == null ? "GitHubActionsOfOneBranch" : "GitHubActionsOfOneEnvironment"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    # StringEquals, never StringLike: no pattern can widen the trust to other repositories,
    # branches, tags or pull requests.
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = [local.audience]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [local.subject]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "GitHub Actions of ${var.github_repository}, ${var.github_environment == null ? "branch ${var.github_branch}" : "environment ${var.github_environment}"}: ${var.promote_from_repository_arn == null ? "push" : "promote"} flow images and code"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

# Nothing for `prefect deploy` itself: it talks to the Prefect API only, with the credentials
# the workflow takes from the repository's secrets.
data "aws_iam_policy_document" "permissions" {
  # `docker login` to ECR (aws-actions/amazon-ecr-login): the action has no resource type,
  # so "*" is the only resource it takes; the token alone opens no repository.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # `docker build` of an image FROM the worker image, which lives in this repository.
  # unrecorded ecr:GetDownloadUrlForLayer: downloading a layer the runner does not hold: a
  #   GitHub runner starts empty and downloads every layer of the worker image; the pipeline
  #   test's machine built that image, so its staging job reads only the manifest (production's
  #   job records the action, mounting layers from staging's repository).
  statement {
    sid = "EcrPullWorkerImage"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  # `docker push` of the flow's image: which layers exist, upload the missing ones, tag the
  # manifest.
  statement {
    sid = "EcrPushFlowImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:CompleteLayerUpload",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.ecr_repository_arn]
  }

  # Production's shape: `docker pull` of the image that passed in the repository it is promoted
  # from (by digest), to push it unchanged into this one. Read only: nothing can be written there.
  dynamic "statement" {
    for_each = var.promote_from_repository_arn == null ? [] : [var.promote_from_repository_arn]
    content {
      sid = "EcrPullPromotedImage"
      actions = [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]
      resources = [statement.value]
    }
  }

  # prefect-aws's push_to_s3 step in `prefect deploy` (PutObject, multipart uploads
  # included). Nothing else in the bucket: push_to_s3 neither lists nor reads, and the flow
  # runs read their code with the flow-run task role, not this one.
  statement {
    sid       = "PushFlowCode"
    actions   = ["s3:PutObject"]
    resources = ["${var.code_bucket_arn}/*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "push-flow-images-and-code"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}

# Exactly this policy: one attached or put inline by hand is drift, removed by the next apply.
resource "aws_iam_role_policy_attachments_exclusive" "this" {
  role_name   = aws_iam_role.this.name
  policy_arns = []
}

resource "aws_iam_role_policies_exclusive" "this" {
  role_name    = aws_iam_role.this.name
  policy_names = [aws_iam_role_policy.this.name]
}
