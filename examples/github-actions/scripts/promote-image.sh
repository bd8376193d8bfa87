#!/usr/bin/env bash
# Copy the image that passed staging, by digest, into production's ECR repository under the
# same tag, and check that production holds exactly that digest. Nothing is built.
#
# In: SOURCE_IMAGE (<staging registry>/<repository>@<digest>, the staging job's output; empty
# when the flows have no image), TAG, REGISTRY, REPOSITORY (production's), docker logged in to
# both registries (one login when both repositories are in one account and region).
# Out: FLOW_IMAGE=<registry>/<repository>@<digest> in $GITHUB_ENV, for `prefect deploy`.
set -euo pipefail

: "${REGISTRY:?}" "${REPOSITORY:?}" "${GITHUB_ENV:?}"

if [[ -z "${SOURCE_IMAGE:-}" ]]; then
  echo "Staging built no image (no Dockerfile): nothing to promote."
  exit 0
fi
: "${TAG:?the tag the image has in staging}"
digest="${SOURCE_IMAGE##*@}"
if [[ "$digest" != sha256:* ]]; then
  echo "error: SOURCE_IMAGE must name a digest (<registry>/<repository>@sha256:...), got $SOURCE_IMAGE" >&2
  exit 1
fi
pinned="$REGISTRY/$REPOSITORY@$digest"

# Already promoted (a re-run): production's repository serves that digest.
if docker pull --quiet "$pinned" > /dev/null 2>&1; then
  echo "$pinned is already in production's repository"
else
  docker pull --quiet "$SOURCE_IMAGE"
  docker tag "$SOURCE_IMAGE" "$REGISTRY/$REPOSITORY:$TAG"
  docker push "$REGISTRY/$REPOSITORY:$TAG"
  # A registry that rewrote the manifest would give it another digest: never deploy that.
  pushed="$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$SOURCE_IMAGE" \
    | sed -n "s|^$REGISTRY/$REPOSITORY@||p" | head -n 1)"
  if [[ "$pushed" != "$digest" ]]; then
    echo "error: production's repository holds $TAG as ${pushed:-nothing}, staging passed $digest" >&2
    exit 1
  fi
fi
echo "FLOW_IMAGE=$pinned" >> "$GITHUB_ENV"
echo "Promoted: $pinned"
