#!/usr/bin/env bash
# Make sure a redis-server binary exists: install it with apt when we are root, else say what to install.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing: installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 && exit 0
fi
echo "error: redis-server not found; install it (Debian/Ubuntu: sudo apt-get install redis-server) and run make again" >&2
exit 1
