#!/usr/bin/env bash
# Start a deployment's flow run on the Prefect API in PREFECT_API_URL and wait for it:
# exit 0 only when it ends Completed. The run's final state and URL go to the log and, on
# GitHub Actions, to the job summary ($GITHUB_STEP_SUMMARY); its id to the step's outputs.
#
#   run-deployment.sh <flow>/<deployment> [parameters as JSON]
#
# Used for the flows' smoke test and for bootstrap-flows' own deployments: `drift-check/<env>`
# (read-only) and `bootstrap/<env>` (the only way this pipeline changes infrastructure, so the
# product's approval gate and Terraform lock apply).
set -euo pipefail

deployment="${1:?usage: run-deployment.sh <flow>/<deployment> [parameters as JSON]}"
parameters="${2:-}"
timeout="${WATCH_TIMEOUT_SECONDS:-1800}"

command=(prefect deployment run "$deployment" --watch --watch-timeout "$timeout")
if [[ -n "$parameters" ]]; then
  command+=(--params "$parameters")
fi

output="$(mktemp)"
trap 'rm -f "$output"' EXIT
# The exit status is the flow run's: 0 for Completed, 1 for any other final state or a timeout.
set +e
"${command[@]}" 2>&1 | tee "$output"
status="${PIPESTATUS[0]}"
set -e

run_id="$(sed -n 's/.*└── UUID: *//p' "$output" | head -n 1)"
url="$(sed -n 's/.*└── URL: *//p' "$output" | head -n 1)"
# Prefect's last line: "Flow run finished successfully in 'Completed'." or "... in state 'X'."
final="$(grep -E "Flow run finished|Timed out|timed out" "$output" | tail -n 1 || true)"

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "flow-run-id=$run_id" >> "$GITHUB_OUTPUT"
fi
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo "### \`$deployment\`"
    echo
    echo "- ${final:-the flow run did not start (exit $status)}"
    echo "- flow run: ${url:-none}"
  } >> "$GITHUB_STEP_SUMMARY"
fi
echo "Flow run of $deployment: ${url:-none}"
exit "$status"
