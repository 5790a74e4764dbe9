#!/usr/bin/env bash
# docker/docker-compose.yml is a valid compose file whose commands the qtune binary accepts
# (no Docker engine needed: `docker-compose config` validates, `qtune` parses the arguments).
#   check_compose.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 src=$2
if ! command -v docker-compose > /dev/null 2>&1; then
  echo "SKIP: docker-compose is not installed (apt-get install docker-compose)"
  exit 0
fi
if ! out=$(docker-compose -f "$src/docker/docker-compose.yml" config 2>&1); then
  echo "FAIL: docker-compose config: $out"
  exit 1
fi
fail=0
for svc in coordinator worker; do
  grep -q "^  $svc:" <<<"$out" || { echo "FAIL: no service '$svc'"; fail=1; }
done
# Every subcommand the compose file runs must be one qtune knows.
for cmd in coordinator worker; do
  if "$qtune" "$cmd" 2>&1 | grep -q "unknown command"; then echo "FAIL: qtune $cmd"; fail=1; fi
done
[ $fail -eq 0 ] && echo "ok: docker-compose config accepts docker/docker-compose.yml (coordinator + scalable worker)"
exit $fail
