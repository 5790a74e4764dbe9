#!/usr/bin/env bash
# deploy/kubernetes/ without a cluster: every manifest parses as YAML and each document has the
# apiVersion its kind lives in; the coordinator is a Job (or StatefulSet) whose journal is on a
# PersistentVolumeClaim defined here and whose port a Service selects; workers are a Deployment
# reaching that Service with CURVE keys from a Secret; every container has resource requests and
# limits, readiness and liveness probes, runs as non-root, and every QTUNE_* variable names a
# qtune option. With kubectl installed, `kubectl kustomize` must render the folder too (offline).
# Then the pods run here as processes (see below).
#   check_deploy_kubernetes.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 dir=$2/deploy/kubernetes
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { echo "SKIP: python3-yaml is not installed"; exit 0; }
help=$(mktemp) && trap 'rm -f "$help"' EXIT
"$qtune" help --markdown > "$help" || { echo "FAIL: qtune help --markdown"; exit 1; }
/usr/bin/python3 - "$dir" "$help" <<'PY' || exit 1
import glob, os, re, sys, yaml
folder, help_path = sys.argv[1:]
help_text = open(help_path).read()
errors = []
def err(where, msg): errors.append(f"FAIL: {where}: {msg}")
api_of = {"Job": "batch/v1", "StatefulSet": "apps/v1", "Deployment": "apps/v1", "Service": "v1",
          "PersistentVolumeClaim": "v1", "Secret": "v1", "ConfigMap": "v1",
          "Kustomization": "kustomize.config.k8s.io/v1beta1"}
docs = []  # (file, index, document)
files = sorted(glob.glob(os.path.join(folder, "*.yaml")) + glob.glob(os.path.join(folder, "*.yml")))
if not files: err(folder, "no manifests")
for path in files:
    try:
        loaded = list(yaml.safe_load_all(open(path)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        err(f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path, f"not YAML: {e}")
        continue
    for i, d in enumerate(x for x in loaded if x is not None):
        where = f"{path} (document {i + 1})"
        if not isinstance(d, dict) or "apiVersion" not in d or "kind" not in d:
            err(where, "lacks apiVersion or kind"); continue
        want = api_of.get(d["kind"])
        if want is None: err(where, f"unexpected kind {d['kind']}")
        elif d["apiVersion"] != want: err(where, f"{d['kind']} is in {want}, not {d['apiVersion']}")
        docs.append((path, d))

def of_kind(*kinds): return [(p, d) for p, d in docs if d["kind"] in kinds]
def name(d): return d.get("metadata", {}).get("name", "")
def pod_spec(d): return d.get("spec", {}).get("template", {}).get("spec", {})
def pod_labels(d): return d.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
def env_of(c): return {e["name"]: e for e in c.get("env", [])}

claims = {name(d) for _, d in of_kind("PersistentVolumeClaim")}
services = of_kind("Service")
coords = of_kind("Job", "StatefulSet")
workers = of_kind("Deployment")
if len(coords) != 1: err(folder, f"expected one coordinator Job or StatefulSet, found {len(coords)}")
if len(workers) != 1: err(folder, f"expected one worker Deployment, found {len(workers)}")
for path, d in coords + workers:
    where = f"{path} ({d['kind']} {name(d)})"
    spec = pod_spec(d)
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot") or sc.get("runAsUser", 0) == 0: err(where, "pods do not run as non-root")
    if not spec.get("containers"): err(where, "no containers")
    for c in spec.get("containers", []):
        cw = f"{where} container {c.get('name')}"
        for kind in ("requests", "limits"):
            r = c.get("resources", {}).get(kind, {})
            if "cpu" not in r or "memory" not in r: err(cw, f"no cpu and memory {kind}")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c: err(cw, f"no {probe}")
        for var in env_of(c):
            if var.startswith("QTUNE_"):
                flag = "--" + var[6:].lower().replace("_", "-")
                if not re.search(re.escape(flag) + r"(?![\w-])", help_text): err(cw, f"{var} names no qtune option ({flag})")
        if not any("CURVE" in v for v in env_of(c)): err(cw, "no CURVE keys")
    secrets = [v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v]
    if not secrets: err(where, "mounts no Secret (CURVE keys)")
if coords and workers:
    cpath, coord = coords[0]
    wpath, worker = workers[0]
    cspec = pod_spec(coord)
    used_claims = [v["persistentVolumeClaim"]["claimName"] for v in cspec.get("volumes", []) if "persistentVolumeClaim" in v]
    used_claims += [name(t) for t in coord.get("spec", {}).get("volumeClaimTemplates", [])]
    if not used_claims: err(cpath, "the coordinator keeps its journal on no PersistentVolumeClaim")
    for c in used_claims:
        if c not in claims and coord["kind"] != "StatefulSet": err(cpath, f"claim {c} is not defined in {folder}")
    cenv = env_of(cspec["containers"][0])
    if cenv.get("QTUNE_RESUME", {}).get("value") not in ("1", "true", "yes", "on"):
        err(cpath, "the coordinator does not run with --resume (QTUNE_RESUME)")
    out = cenv.get("QTUNE_OUT", {}).get("value", "")
    mounts = {m["name"]: m["mountPath"] for m in cspec["containers"][0].get("volumeMounts", [])}
    pvc_vols = {v["name"] for v in cspec.get("volumes", []) if "persistentVolumeClaim" in v}
    pvc_vols |= {name(t) for t in coord.get("spec", {}).get("volumeClaimTemplates", [])}
    if not any(out.startswith(mounts[v]) for v in pvc_vols if v in mounts):
        err(cpath, f"QTUNE_OUT {out or '(unset)'} is not on the claim")
    labels = pod_labels(coord)
    selecting = [d for _, d in services if d["spec"].get("selector") and
                 all(labels.get(k) == v for k, v in d["spec"]["selector"].items())]
    if not selecting: err(cpath, "no Service selects the coordinator's pods")
    wenv = env_of(pod_spec(worker)["containers"][0])
    m = re.match(r"tcp://([^:]+):(\d+)$", wenv.get("QTUNE_CONNECT", {}).get("value", ""))
    if not m: err(wpath, "QTUNE_CONNECT is not tcp://SERVICE:PORT")
    elif not any(name(s) == m.group(1) and any(p["port"] == int(m.group(2)) for p in s["spec"]["ports"]) for s in selecting):
        err(wpath, f"QTUNE_CONNECT {m.group(0)} is not the coordinator's Service and port")
    if "replicas" not in worker.get("spec", {}): err(wpath, "no replicas")
kust = of_kind("Kustomization")
if kust:
    listed = set(kust[0][1].get("resources", []))
    for path in files:
        base = os.path.basename(path)
        if base not in listed and not base.startswith("kustomization"): err(kust[0][0], f"does not list {base}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print(f"ok: {len(files)} manifests, {len(docs)} documents parse; " +
      ", ".join(sorted(f"{d['kind']} {name(d)}" for _, d in docs if d['kind'] != 'Kustomization')))
PY
if command -v kubectl > /dev/null 2>&1; then
  kubectl kustomize "$dir" > /dev/null || { echo "FAIL: kubectl kustomize $dir"; exit 1; }
  echo "ok: kubectl kustomize renders $dir"
fi

# The pods as processes: each container's args and env, its Secret's files (only the projected
# items) and volumes mapped into a scratch directory, the Service name to loopback. The probes
# must pass for a running coordinator and a joined worker, the worker must turn unready when the
# coordinator is gone, and a replacement coordinator pod must resume from the claim's journal.
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "SKIP: running the pods (no dataset-fashion-mnist)"; exit 0; }
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done; wait 2> /dev/null; rm -rf "$tmp" "$help"' EXIT
cp "$qtune" "$tmp/qtune" && mkdir -p "$tmp/bin" "$tmp/all-keys" && ln -s "$tmp/qtune" "$tmp/bin/qtune"
for k in coordinator worker; do "$tmp/qtune" keygen "$tmp/all-keys/$k" > /dev/null || { echo "FAIL: keygen"; exit 1; }; done
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 - "$dir" "$tmp" "$src" "$port" > "$tmp/pods.sh" <<'PY' || exit 1
import glob, math, os, re, shlex, shutil, sys, yaml
folder, tmp, src, port = sys.argv[1:]
docs = [d for p in sorted(glob.glob(os.path.join(folder, "*.yaml"))) for d in yaml.safe_load_all(open(p)) if d]
pods = {d["kind"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Job", "StatefulSet", "Deployment")}
def cpu(q): return str(math.ceil(float(q[:-1]) / 1000 if q.endswith("m") else float(q)))
for role, kind in (("coord", ("Job", "StatefulSet")), ("worker", ("Deployment",))):
    spec = next(pods[k] for k in kind if k in pods)
    c = spec["containers"][0]
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {}
    for m in c.get("volumeMounts", []):
        v = vols[m["name"]]
        local = os.path.join(tmp, role, m["name"])
        os.makedirs(local, exist_ok=True)
        if "secret" in v:
            items = v["secret"].get("items") or [{"key": f, "path": f} for f in os.listdir(os.path.join(tmp, "all-keys"))]
            for it in items: shutil.copy(os.path.join(tmp, "all-keys", it["key"]), os.path.join(local, it["path"]))
        elif "persistentVolumeClaim" in v:  # one claim, shared by every pod that mounts it
            local = os.path.join(tmp, "claim-" + v["persistentVolumeClaim"]["claimName"])
            os.makedirs(local, exist_ok=True)
        mounts[m["mountPath"]] = local
    def mapped(x):
        x = str(x)
        for path in sorted(mounts, key=len, reverse=True): x = x.replace(path, mounts[path])
        x = re.sub(r"tcp://[^:/]+:5555", f"tcp://127.0.0.1:{port}", x)
        return x.replace("/opt/qtune/", src + "/")
    env = []
    for e in c.get("env", []):
        if "value" in e: env.append(f"{e['name']}={mapped(e['value'])}")
        elif "resourceFieldRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["resourceFieldRef"]["resource"]
            kind_, res = ref.split(".")
            env.append(f"{e['name']}={cpu(str(c['resources'][kind_][res]))}")
    q = lambda xs: " ".join(shlex.quote(mapped(x)) for x in xs)
    print(f"{role}_cmd=(qtune {q(c.get('args', []))})")
    print(f"{role}_env=({' '.join(shlex.quote(x) for x in env)})")
    print(f"{role}_ready=({q(c['readinessProbe']['exec']['command'])})")
    print(f"{role}_live=({q(c['livenessProbe']['exec']['command'])})")
PY
source "$tmp/pods.sh"
run() { env -i PATH="$tmp/bin:/usr/bin:/bin" HOME="$tmp" QTUNE_CAPABILITIES_DIR="$src/capabilities" "$@"; }
run_bg() { exec env -i PATH="$tmp/bin:/usr/bin:/bin" HOME="$tmp" QTUNE_CAPABILITIES_DIR="$src/capabilities" "$@"; }
wait_for() {
  local until=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge "$until" ] && return 1; sleep 0.2; done
}
probe() {  # probe WANT NAME ENV_ARRAY COMMAND...
  local want=$1 what=$2; shift 2
  run "$@" > "$tmp/probe.out" 2>&1
  local rc=$?
  [ $rc -eq "$want" ] || { echo "FAIL: $what: exit $rc, expected $want: $(cat "$tmp/probe.out")"; fail=1; }
}
fail=0
start_coordinator() { run_bg "${coord_env[@]}" "${coord_cmd[@]}" >> "$tmp/coord.log" 2>&1 & coord_pid=$!; pids+=("$coord_pid"); }
start_coordinator
wait_for 60 grep -q "listening on" "$tmp/coord.log" || { echo "FAIL: the coordinator pod did not start:"; cat "$tmp/coord.log"; exit 1; }
probe 0 "coordinator readinessProbe" "${coord_env[@]}" "${coord_ready[@]}"
probe 0 "coordinator livenessProbe" "${coord_env[@]}" "${coord_live[@]}"
run_bg "${worker_env[@]}" QTUNE_SIMULATE_MS=500 "${worker_cmd[@]}" > "$tmp/worker.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q "joined" "$tmp/coord.log" || { echo "FAIL: the worker pod did not join:"; cat "$tmp/coord.log" "$tmp/worker.log"; fail=1; }
probe 0 "worker readinessProbe" "${worker_env[@]}" "${worker_ready[@]}"
probe 0 "worker livenessProbe" "${worker_env[@]}" "${worker_live[@]}"
has_journal() { [ -n "$(find "$tmp" -path "*claim-*" -name journal.qtj)" ]; }
wait_for 120 has_journal || { echo "FAIL: no journal on the claim"; fail=1; }
kill -9 "$coord_pid"; wait "$coord_pid" 2> /dev/null
probe 1 "worker readinessProbe without a coordinator" "${worker_env[@]}" "${worker_ready[@]}" --timeout-ms 1500
start_coordinator  # the Job's replacement pod, same claim
wait_for 120 grep -q "^resuming from .*journal.qtj" "$tmp/coord.log" ||
  { echo "FAIL: the replacement coordinator did not resume from the claim:"; cat "$tmp/coord.log"; fail=1; }
[ $fail -eq 0 ] && echo "ok: as processes, the pods' probes pass, a worker joins and turns unready without its coordinator, and a replacement coordinator resumes from the claim"
exit $fail
