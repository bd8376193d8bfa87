#!/usr/bin/env bash
# Make this machine able to build and push the worker image: a Docker engine that answers, a
# registry (stands in for ECR on the embedded default), mmdebstrap (base image without Docker
# Hub) and htpasswd (the registry's auth file). Idempotent: installs only what is missing and
# starts dockerd only when no engine answers. Needs root on Debian/Ubuntu.
#
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKER_WAIT_SECONDS (default 60).
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKER_WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"
PACKAGES=(docker.io docker-registry mmdebstrap apache2-utils)

say() { printf 'install-docker: %s\n' "$*"; }

manual_help() {
    cat >&2 <<'EOF'
install-docker: this script installs Docker only as root on Debian or Ubuntu.
Install it yourself instead:
  - Docker Engine: https://docs.docker.com/engine/install/ (or Docker Desktop), then start it
    so that `docker info` works for your user;
  - for the embedded default also: a `docker-registry` (distribution) binary, `mmdebstrap`
    (only if Docker Hub is unreachable) and `htpasswd` (apache2-utils / httpd-tools).
EOF
    exit 1
}

docker_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

installed() {
    # A dockerd from elsewhere (e.g. Docker's own packages) is as good as Debian's docker.io.
    if [[ "$1" == docker.io ]] && command -v dockerd >/dev/null 2>&1; then
        return 0
    fi
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if [[ "$(id -u)" -ne 0 ]] || [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    if docker_answers; then
        say "not root on Debian, but a Docker engine already answers; nothing to do"
        exit 0
    fi
    manual_help
fi

missing=()
for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done

if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    # Package scripts must not start services: docker-registry's own service would take port
    # 5000 (the local registry's default) with the distro config, and dockerd is started below.
    policy=/usr/sbin/policy-rc.d
    restore_policy=""
    if [[ -e "$policy" ]]; then
        restore_policy="$(mktemp)"
        cp -p "$policy" "$restore_policy"
    fi
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    restore() {
        if [[ -n "$restore_policy" ]]; then mv -f "$restore_policy" "$policy"; else rm -f "$policy"; fi
    }
    trap restore EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    restore
    trap - EXIT
    if [[ -d /run/systemd/system ]] && systemctl is-enabled docker-registry >/dev/null 2>&1; then
        systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
else
    say "packages present: ${PACKAGES[*]}"
fi

if docker_answers; then
    say "Docker engine answers: $(docker version --format '{{.Server.Version}}')"
    exit 0
fi

if [[ -d /run/systemd/system ]]; then
    say "starting docker with systemd"
    systemctl start docker
else
    say "starting dockerd in the background (log: $DOCKERD_LOG)"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
fi

for ((i = 0; i < DOCKER_WAIT_SECONDS; i++)); do
    if docker_answers; then
        say "Docker engine answers: $(docker version --format '{{.Server.Version}}')"
        exit 0
    fi
    sleep 1
done
say "dockerd did not answer within ${DOCKER_WAIT_SECONDS} s; see $DOCKERD_LOG" >&2
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
