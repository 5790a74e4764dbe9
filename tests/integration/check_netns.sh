#!/usr/bin/env bash
# Multi-host distributed tuning on one machine: Linux network namespaces joined by veth pairs to
# a bridge stand in for three hosts. The coordinator (CURVE, binding its namespace's address)
# runs in one, a worker in each of two others; the workers start with empty caches, so the
# model, data and calibration statistics travel over the wire by hash. The run must choose what
# an in-process run chooses. Needs root (CAP_NET_ADMIN) and `ip` (iproute2); otherwise SKIP.
#   check_netns.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
if ! command -v ip > /dev/null; then echo "SKIP: no 'ip' command (Debian package iproute2)"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root (CAP_NET_ADMIN)"; exit 0; fi
tag=qt$$
if ! ip netns add "${tag}c" 2> /dev/null; then
  echo "SKIP: cannot create a network namespace here (no CAP_NET_ADMIN?)"; exit 0
fi
use_private_binary
extra_cleanup() {
  for n in c w1 w2 br; do ip netns del "${tag}$n" 2> /dev/null; done
}
setup() {
  # A bridge namespace with one veth per host namespace: 10.77.0.1 (coordinator), .2, .3.
  ip netns add "${tag}br" && ip netns add "${tag}w1" && ip netns add "${tag}w2" &&
    ip -n "${tag}br" link add br0 type bridge && ip -n "${tag}br" link set br0 up || return 1
  local i=1 n
  for n in c w1 w2; do
    ip link add "${tag}$n" type veth peer name "${tag}b$n" &&
      ip link set "${tag}$n" netns "${tag}$n" && ip link set "${tag}b$n" netns "${tag}br" &&
      ip -n "${tag}br" link set "${tag}b$n" master br0 && ip -n "${tag}br" link set "${tag}b$n" up &&
      ip -n "${tag}$n" addr add "10.77.0.$i/24" dev "${tag}$n" && ip -n "${tag}$n" link set "${tag}$n" up &&
      ip -n "${tag}$n" link set lo up || return 1
    i=$((i + 1))
  done
}
if ! setup 2> "$tmp/setup.err"; then
  echo "SKIP: cannot set up veth links between namespaces: $(head -n1 "$tmp/setup.err")"; exit 0
fi

cat > "$tmp/tune.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: top1}
tuning:
  strategy: basic
  accuracy_criterion: {relative: 0.0001}
  exit_policy: {timeout: 0, max_trials: 20}
  objective: accuracy
YAML
chosen_hash() {
  tr -d '\n' < "$1/report.json" | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p' |
    sed -n 's/.*"hash": *"\([0-9a-f]*\)".*/\1/p'
}
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/seq" > "$tmp/seq.log" 2>&1
want=$(chosen_hash "$tmp/seq")
[ -n "$want" ] || { echo "FAIL: the in-process run chose nothing"; tail "$tmp/seq.log"; exit 1; }

"$qtune" keygen "$tmp/coord" > /dev/null && mkdir "$tmp/allowed" &&
  "$qtune" keygen "$tmp/w1" > /dev/null && "$qtune" keygen "$tmp/w2" > /dev/null &&
  cp "$tmp/w1.pub" "$tmp/w2.pub" "$tmp/allowed/" || { echo "FAIL: qtune keygen"; exit 1; }
# A plain bind on a routable address is refused unless asked for.
if ip netns exec "${tag}c" "$qtune" coordinator "$tmp/tune.yaml" --bind tcp://10.77.0.1:5555 --out "$tmp/x" > "$tmp/plain.log" 2>&1; then
  echo "FAIL: a plain non-loopback bind ran without --insecure"; fail=1
elif ! grep -q -- "--insecure" "$tmp/plain.log"; then
  echo "FAIL: the refused plain bind does not say why"; cat "$tmp/plain.log"; fail=1
fi

ip netns exec "${tag}c" timeout 240 "$qtune" coordinator "$tmp/tune.yaml" --bind tcp://10.77.0.1:5555 --out "$tmp/dist" \
  --curve --curve-secret "$tmp/coord.key" --curve-allow "$tmp/allowed" --heartbeat-ms 500 > "$tmp/coord.log" 2>&1 &
coord=$!
pids+=("$coord")
for k in 1 2; do
  # The source tree is visible here too; the cache transfer is what is tested, so nothing but the
  # tuning YAML's path (for logs) comes from the coordinator's file system view.
  ip netns exec "${tag}w$k" "$qtune" worker --connect tcp://10.77.0.1:5555 --threads 1 --heartbeat-ms 500 \
    --cache "$tmp/cache$k" --curve --curve-secret "$tmp/w$k.key" --curve-server-key "$tmp/coord.pub" \
    > "$tmp/worker$k.log" 2>&1 &
  pids+=($!)
done
wait "$coord"
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL: coordinator exit $rc"; tail -n 20 "$tmp/coord.log"; exit 1; fi
got=$(chosen_hash "$tmp/dist")
if [ "$got" != "$want" ]; then
  echo "FAIL: coordinator + 2 workers in other namespaces chose '$got', in-process chose '$want'"; fail=1
else
  echo "ok: coordinator + 2 workers across network namespaces chose $got, as in-process"
fi
for k in 1 2; do
  if ! grep -q "fetched [0-9]* file(s)" "$tmp/worker$k.log"; then
    echo "FAIL: worker $k fetched no files"; tail -n 5 "$tmp/worker$k.log"; fail=1
  elif [ "$(ls "$tmp/cache$k/objects" | wc -l)" -lt 6 ]; then
    echo "FAIL: worker $k's cache holds $(ls "$tmp/cache$k/objects" | wc -l) files, expected config, model, 2 data YAMLs, images, labels, stats"; fail=1
  else
    echo "ok: worker $k: $(grep -o 'fetched [0-9]* file(s), [0-9]* bytes' "$tmp/worker$k.log")"
  fi
done
grep -q '"distribution"' "$tmp/dist/report.json" || { echo "FAIL: report.json has no distribution section"; fail=1; }
exit $fail
