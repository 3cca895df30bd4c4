#!/usr/bin/env bash
# Start/stop a local Ray head (dashboard + Jobs API + Serve proxy) on free 127.0.0.1 ports.
#   scripts/ray-head.sh start [TAG]   prints {"address","dashboard_url","serve_url",...} as JSON
#   scripts/ray-head.sh stop  [TAG]   stops exactly that head's process tree (never `ray stop`,
#                                     which would kill every Ray process on the machine)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export RAY_USAGE_STATS_ENABLED=0 RAY_USAGE_STATS_REPORT_URL=http://127.0.0.1:9/
case "${1:-}" in
  start|stop) exec "$PY" -m sentinel.localstack.ray_head "$1" --tag "${2:-demo}" ;;
  *) echo "usage: $0 start|stop [TAG]" >&2; exit 2 ;;
esac
