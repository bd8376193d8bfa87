#!/usr/bin/env bash
# The flows' image, built FROM the worker image and pushed to this environment's ECR
# repository, when the repository has a Dockerfile; without one the flows run in the worker
# image and `prefect deploy` pushes their code to the code bucket.
#
# In: REGISTRY, REPOSITORY, WORKER_IMAGE, GITHUB_SHA (and docker logged in to REGISTRY).
# Out: FLOW_IMAGE=<registry>/<repository>@<digest> in $GITHUB_ENV (what prefect.yaml's
# `image: "{{ $FLOW_IMAGE }}"` reads: deployments name the digest, never a tag), and the step
# outputs image (the same), tag and digest, which the production job copies.
set -euo pipefail

: "${REGISTRY:?}" "${REPOSITORY:?}" "${GITHUB_SHA:?}" "${GITHUB_ENV:?}" "${GITHUB_OUTPUT:?}"

if [[ ! -f Dockerfile ]]; then
  echo "No Dockerfile: the flows run in the worker image; nothing to build."
  echo "image=" >> "$GITHUB_OUTPUT"
  exit 0
fi
: "${WORKER_IMAGE:?the worker image to build FROM}"

tag="flows-$GITHUB_SHA"
image="$REGISTRY/$REPOSITORY:$tag"
# The repository's tags are immutable: a re-run of this commit reuses its image.
if docker pull --quiet "$image" > /dev/null 2>&1; then
  echo "$image already pushed: reusing it"
else
  docker build --pull --build-arg "WORKER_IMAGE=$WORKER_IMAGE" --tag "$image" .
  docker push "$image"
fi

digest="$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$image" \
  | sed -n "s|^$REGISTRY/$REPOSITORY@||p" | head -n 1)"
if [[ "$digest" != sha256:* ]]; then
  echo "error: no digest of $image in $REGISTRY/$REPOSITORY after the push" >&2
  exit 1
fi
pinned="$REGISTRY/$REPOSITORY@$digest"
echo "FLOW_IMAGE=$pinned" >> "$GITHUB_ENV"
{
  echo "image=$pinned"
  echo "tag=$tag"
  echo "digest=$digest"
} >> "$GITHUB_OUTPUT"
echo "Flow image: $pinned"
