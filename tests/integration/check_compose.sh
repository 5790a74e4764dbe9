#!/usr/bin/env bash
# docker/docker-compose.yml without a Docker engine. `docker-compose config` validates it; its
# shape is checked (a coordinator and a scalable worker, a named volume holding QTUNE_OUT, CURVE
# keys as secrets, a healthcheck on both, restart on-failure, the coordinator resuming); then
# both services run here as processes with the compose file's commands and environments (paths
# of the image and /run/secrets mapped into a scratch directory, the service name to loopback):
# both healthchecks pass, a worker joins, and a coordinator killed after writing its journal
# comes back with the same command and resumes from it.
#   check_compose.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 src=$(cd "$2" && pwd)
compose_file=$src/docker/docker-compose.yml
if ! command -v docker-compose > /dev/null 2>&1; then
  echo "SKIP: docker-compose is not installed (apt-get install docker-compose)"
  exit 0
fi
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { echo "SKIP: python3-yaml is not installed"; exit 0; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$qtune" "$tmp/qtune" && qtune=$tmp/qtune  # a concurrent rebuild cannot pull it away
mkdir -p "$tmp/keys" "$tmp/var/out" "$tmp/var/cache"
for k in coordinator worker; do "$qtune" keygen "$tmp/keys/$k" > /dev/null || { echo "FAIL: keygen"; exit 1; }; done

if ! (cd "$tmp" && QTUNE_KEYS=$tmp/keys docker-compose -f "$compose_file" config > "$tmp/config.yml" 2> "$tmp/config.err"); then
  echo "FAIL: docker-compose config: $compose_file: $(cat "$tmp/config.err")"
  exit 1
fi
"$qtune" help --markdown > "$tmp/help.txt"

# Shape checks, then each service as shell arrays (command, environment, healthcheck), mapped.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! /usr/bin/python3 - "$tmp/config.yml" "$tmp" "$src" "$port" "$tmp/help.txt" > "$tmp/services.sh" <<'PY'; then
import re, shlex, sys, yaml
config_path, tmp, src, port, help_path = sys.argv[1:]
cfg = yaml.safe_load(open(config_path))
help_text = open(help_path).read()
errors = []
def err(msg): errors.append(msg)
services = cfg.get("services", {})
for name in ("coordinator", "worker"):
    if name not in services: err(f"no service '{name}'")
if errors:
    print("\n".join("FAIL: docker-compose.yml: " + e for e in errors), file=sys.stderr); sys.exit(1)
coord, worker = services["coordinator"], services["worker"]
for name in ("coordinator", "worker"):
    s = services[name]
    if not str(s.get("restart", "")).startswith("on-failure"): err(f"{name}: restart is not on-failure")
    hc = s.get("healthcheck") or {}
    if hc.get("disable") or not hc.get("test"): err(f"{name}: no healthcheck")
    env = s.get("environment") or {}
    for var in env:
        if not var.startswith("QTUNE_"): continue
        flag = "--" + var[len("QTUNE_"):].lower().replace("_", "-")
        if not re.search(re.escape(flag) + r"(?![\w-])", help_text): err(f"{name}: {var} names no qtune option ({flag})")
    used = set(re.findall(r"/run/secrets/([\w.-]+)", yaml.safe_dump(s)))
    given = {x["source"] if isinstance(x, dict) else x for x in s.get("secrets", [])}
    for sec in sorted(used - given): err(f"{name}: uses /run/secrets/{sec} without the secret")
    if not any("CURVE" in v for v in env): err(f"{name}: no CURVE keys")
for k in ("container_name", "ports"):
    if k in worker: err(f"worker: {k} keeps it from scaling (--scale worker=N)")
cenv = coord.get("environment") or {}
if not (str(cenv.get("QTUNE_RESUME", "")).lower() in ("1", "true", "yes", "on") or "--resume" in coord.get("command", [])):
    err("coordinator: not started with --resume (QTUNE_RESUME)")
out = cenv.get("QTUNE_OUT", "")
named = set((cfg.get("volumes") or {}).keys())
mounts = [v for v in coord.get("volumes", []) if isinstance(v, str) and v.split(":")[0] in named]
if not any(out.startswith(v.split(":")[1]) for v in mounts):
    err(f"coordinator: QTUNE_OUT {out or '(unset)'} is not on a named volume")
secrets = cfg.get("secrets") or {}
if errors:
    print("\n".join("FAIL: docker-compose.yml: " + e for e in errors), file=sys.stderr); sys.exit(1)

def mapped(v):
    v = str(v)
    v = re.sub(r"/run/secrets/([\w.-]+)", lambda m: secrets[m.group(1)]["file"], v)
    v = re.sub(r"tcp://[^:/]+:5555", f"tcp://127.0.0.1:{port}", v)
    return v.replace("/opt/qtune/", src + "/").replace("/var/lib/qtune/", tmp + "/var/")
def array(name, items): print(f"{name}=(" + " ".join(shlex.quote(mapped(x)) for x in items) + ")")
for name, s in (("coord", coord), ("worker", worker)):
    array(f"{name}_cmd", s.get("command", []))
    array(f"{name}_env", [f"{k}={v}" for k, v in (s.get("environment") or {}).items()])
    test = s["healthcheck"]["test"]
    array(f"{name}_health", test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]])
PY
  cat "$tmp/services.sh"
  exit 1
fi
source "$tmp/services.sh"
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "ok: docker-compose config accepts it and its shape holds (SKIP running it: no dataset-fashion-mnist)"
  exit 0
fi

# A service as the image would run it: its environment only, `qtune` on the PATH.
bin=$tmp/bin && mkdir -p "$bin" && ln -s "$qtune" "$bin/qtune"
run() { env -i PATH="$bin:/usr/bin:/bin" HOME="$tmp/var" QTUNE_CAPABILITIES_DIR="$src/capabilities" "$@"; }
# In the background: exec, so that $! is the qtune process itself and kill reaches it.
run_bg() { exec env -i PATH="$bin:/usr/bin:/bin" HOME="$tmp/var" QTUNE_CAPABILITIES_DIR="$src/capabilities" "$@"; }
wait_for() {
  local until=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge "$until" ] && return 1; sleep 0.2; done
}
fail=0
start_coordinator() {
  run_bg "${coord_env[@]}" qtune "${coord_cmd[@]}" >> "$tmp/coord.log" 2>&1 &
  coord_pid=$!
  pids+=("$coord_pid")
}
start_coordinator
wait_for 60 grep -q "listening on" "$tmp/coord.log" || { echo "FAIL: coordinator did not start:"; cat "$tmp/coord.log"; exit 1; }
run "${coord_env[@]}" "${coord_health[@]}" > "$tmp/h.out" 2>&1 || { echo "FAIL: coordinator healthcheck: $(cat "$tmp/h.out")"; fail=1; }
# The worker only sleeps per trial (QTUNE_SIMULATE_MS): joining, probing and the journal are the
# point here, and the run lasts long enough to be killed in the middle.
run_bg "${worker_env[@]}" QTUNE_SIMULATE_MS=500 qtune "${worker_cmd[@]}" > "$tmp/worker.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q "joined" "$tmp/coord.log" || { echo "FAIL: the worker did not join:"; cat "$tmp/coord.log" "$tmp/worker.log"; fail=1; }
run "${worker_env[@]}" "${worker_health[@]}" > "$tmp/h.out" 2>&1 || { echo "FAIL: worker healthcheck: $(cat "$tmp/h.out")"; fail=1; }
# restart: on-failure after a crash: the same command continues from the journal.
has_journal() { [ -n "$(find "$tmp/var/out" -name journal.qtj 2> /dev/null)" ]; }
wait_for 120 has_journal ||
  { echo "FAIL: no journal under QTUNE_OUT"; cat "$tmp/coord.log"; fail=1; }
kill -9 "$coord_pid" 2> /dev/null; wait "$coord_pid" 2> /dev/null
start_coordinator
wait_for 120 grep -q "^resuming from .*journal.qtj" "$tmp/coord.log" ||
  { echo "FAIL: the restarted coordinator did not resume:"; cat "$tmp/coord.log"; fail=1; }
[ $fail -eq 0 ] && echo "ok: docker-compose config accepts docker/docker-compose.yml; its coordinator and worker run, pass their healthchecks and the coordinator resumes after kill -9"
exit $fail
