#!/usr/bin/env bash
# The Debian packages the test suite drives for real: PgBouncer (the pooler test, in front of the test
# PostgreSQL), HAProxy (the chaos run's balancer; the compose deployment's configuration is checked with
# `haproxy -c`), promtool from prometheus (the alert rules are checked and unit-tested),
# redis-server (the realtime fan-out over Redis pub/sub), Chromium (the browser tests; Playwright never downloads one) and a Chinese font (so the
# 中文 screenshots show text, not empty boxes) and iproute2's `ss` (the app's listen backlog is read from
# its listening socket). Installs what is missing with apt-get, which needs root;
# without it, says what to install.
set -euo pipefail
missing=()
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ss >/dev/null || missing+=(iproute2)
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${missing[*]}. Install them (sudo apt-get install -y ${missing[*]}) and run again." >&2
  exit 1
fi
apt-get update && apt-get install -y "${missing[@]}"
