variable "name" {
  description = "Name of the CI role (e.g. \"acme-dev-ci\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,63}$", var.name))
    error_message = "name must be 2-64 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "github_repository" {
  description = "The only GitHub repository whose workflows may assume the role, as \"<owner>/<repo>\", or \"<owner>@<org id>/<repo>@<repo id>\" for a repository that emits GitHub's immutable subject; spelled as GitHub does (the trust compares exactly)."
  type        = string
  nullable    = false

  validation {
    condition     = trimspace(var.github_repository) != ""
    error_message = "github_repository is empty: name the one repository the role trusts, as \"<owner>/<repo>\"."
  }

  validation {
    condition     = !strcontains(var.github_repository, "*") && !strcontains(var.github_repository, "?")
    error_message = "github_repository must not contain a wildcard (* or ?): the role trusts exactly one repository, named as \"<owner>/<repo>\"."
  }

  validation {
    # GitHub: owner 1-39 letters, digits, dashes; repository 1-100 letters, digits, . _ -;
    # each followed by @<numeric id> in the immutable subject (repositories created on or
    # after 2026-07-15, or opted in).
    # (an empty or wildcard value has its own message above, so it is not reported twice).
    condition     = trimspace(var.github_repository) == "" || strcontains(var.github_repository, "*") || strcontains(var.github_repository, "?") || can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:@[0-9]+)?/[A-Za-z0-9._-]{1,100}(?:@[0-9]+)?$", var.github_repository))
    error_message = "github_repository must be \"<owner>/<repo>\" (e.g. \"acme/flows\"), or \"<owner>@<org id>/<repo>@<repo id>\" for GitHub's immutable subject: owner of letters, digits and dashes, repository of letters, digits, '.', '_' and '-'."
  }
}

variable "github_branch" {
  description = "The only branch whose workflow runs may assume the role (e.g. \"main\"); a bare branch name, without refs/heads/."
  type        = string
  nullable    = false

  validation {
    condition     = trimspace(var.github_branch) != ""
    error_message = "github_branch is empty: name the one branch the role trusts (e.g. \"main\")."
  }

  validation {
    condition     = !strcontains(var.github_branch, "*") && !strcontains(var.github_branch, "?")
    error_message = "github_branch must not contain a wildcard (* or ?): the role trusts exactly one branch."
  }

  validation {
    condition     = !startswith(var.github_branch, "refs/") || strcontains(var.github_branch, "*") || strcontains(var.github_branch, "?")
    error_message = "github_branch must be a bare branch name (\"main\", not \"refs/heads/main\"): the module adds refs/heads/."
  }

  validation {
    # Git's ref rules, narrowed to what a branch a person names looks like (empty, wildcard
    # and refs/ values have their own messages above).
    condition     = trimspace(var.github_branch) == "" || strcontains(var.github_branch, "*") || strcontains(var.github_branch, "?") || startswith(var.github_branch, "refs/") || (can(regex("^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$", var.github_branch)) && !strcontains(var.github_branch, "..") && !strcontains(var.github_branch, "//") && !endswith(var.github_branch, "/") && !endswith(var.github_branch, ".lock"))
    error_message = "github_branch must be a git branch name of letters, digits and . _ / - (no \"..\", \"//\", trailing \"/\" or \".lock\")."
  }
}

variable "github_environment" {
  description = "The GitHub environment whose jobs may assume the role (e.g. \"production\"), instead of the branch: a job with `environment:` gets the subject repo:<owner>/<repo>:environment:<name>. Null trusts pushes to github_branch."
  type        = string
  default     = null

  validation {
    condition     = var.github_environment == null || can(regex("^[A-Za-z0-9._-]{1,255}$", var.github_environment))
    error_message = "github_environment must be null or a GitHub environment name of letters, digits, '.', '_' and '-' (no wildcard, no spaces)."
  }
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository CI pushes flow images to (the worker's repository: flow images are built FROM the worker image)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9]+(?:[._/-][a-z0-9]+)*$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be the ARN of one ECR repository (arn:aws:ecr:<region>:<account>:repository/<name>), without wildcards."
  }
}

variable "promote_from_repository_arn" {
  description = "ARN of the ECR repository images are promoted from (staging's), for a production role: it may then also pull from that repository (BatchGetImage, GetDownloadUrlForLayer), nothing more there. Null: no other repository."
  type        = string
  default     = null

  validation {
    condition     = var.promote_from_repository_arn == null || can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9]+(?:[._/-][a-z0-9]+)*$", var.promote_from_repository_arn))
    error_message = "promote_from_repository_arn must be null or the ARN of one ECR repository (arn:aws:ecr:<region>:<account>:repository/<name>), without wildcards."
  }

  validation {
    condition     = var.promote_from_repository_arn != var.ecr_repository_arn
    error_message = "promote_from_repository_arn is the role's own repository (ecr_repository_arn): name the repository images are promoted from, or leave it null."
  }
}

variable "code_bucket_arn" {
  description = "ARN of the S3 bucket CI pushes flow code to (arn:aws:s3:::<bucket>)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.code_bucket_arn))
    error_message = "code_bucket_arn must be the ARN of one S3 bucket (arn:aws:s3:::<bucket>), without a key or wildcard."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the account's existing GitHub Actions OIDC provider (an account holds at most one per URL). Null creates it."
  type        = string
  default     = null

  validation {
    condition     = var.oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be null or the ARN of the account's token.actions.githubusercontent.com OIDC provider."
  }
}

variable "max_session_duration" {
  description = "Longest session (seconds) a workflow may ask for when it assumes the role."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200 && floor(var.max_session_duration) == var.max_session_duration
    error_message = "max_session_duration must be a whole number of seconds between 3600 and 43200."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional IAM permissions boundary of the CI role."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be null or an IAM managed policy ARN."
  }
}

variable "tags" {
  description = "Extra tags added to the role and the OIDC provider (on top of provider default_tags)."
  type        = map(string)
  default     = {}
}
