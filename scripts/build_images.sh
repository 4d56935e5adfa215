#!/usr/bin/env bash
# Build deploy/Dockerfile's images with Debian's buildah (no Docker daemon) and check each one
# inside the image. Not part of `make check` (minutes per image, root, network to PyPI and Debian):
# run it by hand, `make images` (docs/deploy.md, "Building the images without Docker").
#
#   sudo scripts/build_images.sh                 # every target, each checked, then removed
#   sudo scripts/build_images.sh web migrate     # some targets
#   sudo KEEP=1 scripts/build_images.sh edge     # keep the images (localhost/saferoad-TARGET:dev)
#   sudo CHECK=0 scripts/build_images.sh         # build only
#
# Base image: PYTHON_IMAGE if given; else the Dockerfile's python:3.11.11-slim-bookworm when a
# registry answers; else a STAND-IN, localhost/saferoad-standin-python:3.11-bookworm: a Debian
# bookworm rootfs from debootstrap (minbase + python3, python3-pip, python3-venv, ca-certificates;
# Python 3.11.2 at /usr/bin, a `python` link, PIP_BREAK_SYSTEM_PACKAGES=1 for the Dockerfile's
# `pip install uv`) plus this machine's extra CA certificates (/usr/local/share/ca-certificates),
# so that TLS to PyPI passes an egress proxy. The rootfs is cached as a tarball in
# $SAFEROAD_IMAGE_CACHE (default /var/cache/saferoad-images), outside the repository, and the
# stand-in image is left in buildah's storage for the next run (REMOVE_BASE=1 removes it).
#
# Checks per image (CHECK=1, the default), each run in the image as its configured user:
#   - the user is uid 1000 (the image config's USER, and `id -u` in it);
#   - the venv's distributions equal the lock's exactly (name and version), plus saferoad:
#     requirements.lock for the cloud images, deploy/requirements-edge.lock for edge; the
#     eval-worker: every lock entry at its version, the extra ray[default] packages listed;
#   - services (web, analysis, model-server): the image's ENTRYPOINT started in a private network
#     namespace (its own loopback, so the fixed ports cannot collide with anything on the host), the
#     image's HEALTHCHECK command run until it passes (seconds reported), then the service stopped
#     with SIGTERM and the HEALTHCHECK command required to fail;
#   - migrate: its ENTRYPOINT on a new SQLite file in a host folder (then run again: idempotent),
#     the file's tables and alembic_version read on the host; the same against PostgreSQL on
#     127.0.0.1: $SAFEROAD_TEST_PG_URL if set, else a throw-away cluster from scripts/services.sh
#     (what CI's check starts), else reported as not checked;
#   - eval-worker: `ray start --head` in a private network namespace, KubeRay's default head probes
#     (wget to the raylet agent's and the GCS's health endpoints) pass, and fail after `ray stop`;
#   - edge: `saferoad edge --replay` of a simulated harsh braking finds it (models from
#     $SAFEROAD_SHARED, mounted read-only), and no cloud module is importable.
# A summary (target, build seconds, size, checks) is printed at the end and written to
# $SAFEROAD_IMAGE_CACHE/last-run.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
ALL_TARGETS=(model-server analysis web migrate eval-worker edge)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
CHECK=${CHECK:-1}
KEEP=${KEEP:-0}
REMOVE_BASE=${REMOVE_BASE:-0}
BUILD_TIMEOUT_S=${BUILD_TIMEOUT_S:-600}   # per build
CACHE=${SAFEROAD_IMAGE_CACHE:-/var/cache/saferoad-images}
SHARED=$(realpath "${SAFEROAD_SHARED:-$REPO/../shared}")
STANDIN=localhost/saferoad-standin-python:3.11-bookworm
REAL_BASE=python:3.11.11-slim-bookworm
TAG=dev
HOSTPY=${HOSTPY:-$REPO/.venv/bin/python}   # has PyYAML and SQLAlchemy (the migrate check)
[ -x "$HOSTPY" ] || HOSTPY=python3
GIT_SHA=$(git rev-parse --short HEAD)
# no runc/crun needed: buildah's chroot isolation, for `bud` and `run` alike
export BUILDAH_ISOLATION=chroot

die() { echo "build_images: $*" >&2; exit 1; }
log() { echo "== $*"; }
[ "$(id -u)" = 0 ] || die "buildah's chroot isolation needs root here (run with sudo)"
command -v buildah >/dev/null || die "buildah is not installed (apt-get install buildah)"
mkdir -p "$CACHE"
for t in "${TARGETS[@]}"; do
  grep -qE "^FROM .* AS $t\$" deploy/Dockerfile || die "deploy/Dockerfile has no target '$t'"
done

WORK=$(mktemp -d /tmp/saferoad-images.XXXXXX)
CONTAINERS=()
PG_STARTED=0
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [ "$PG_STARTED" = 1 ]; then stop_services; fi
  if [ "$KEEP" != 1 ]; then
    for t in "${TARGETS[@]}"; do buildah rmi "localhost/saferoad-$t:$TAG" >/dev/null 2>&1 || true; done
    buildah rmi --prune >/dev/null 2>&1 || true   # the dangling intermediate layers (--layers)
  fi
  if [ "$REMOVE_BASE" = 1 ]; then buildah rmi "$STANDIN" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the base image ----------------------------------------------------------------------------
standin_base() {
  if buildah inspect --type image "$STANDIN" >/dev/null 2>&1; then
    log "stand-in base $STANDIN (cached in buildah's storage)"; return
  fi
  local tarball=$CACHE/bookworm-python3.11-rootfs.tar root ctr mnt t0
  t0=$SECONDS
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || die "no registry and no debootstrap for a stand-in base"
    log "debootstrap bookworm -> $tarball (a few minutes)"
    root=$WORK/rootfs
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
      bookworm "$root" http://deb.debian.org/debian > "$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    ln -sf python3 "$root/usr/bin/python"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
      chroot "$root" update-ca-certificates >/dev/null
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$mnt" --numeric-owner -xf "$tarball"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --env PIP_BREAK_SYSTEM_PACKAGES=1 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label org.opencontainers.image.description="saferoad stand-in for $REAL_BASE (debootstrap bookworm)" \
    --cmd python3 "$ctr"
  buildah commit --quiet --format docker "$ctr" "$STANDIN" >/dev/null
  buildah rm "$ctr" >/dev/null
  log "stand-in base $STANDIN made in $((SECONDS - t0)) s"
}

if [ -n "${PYTHON_IMAGE:-}" ]; then
  BASE=$PYTHON_IMAGE
elif timeout 120 buildah pull --quiet "docker.io/library/$REAL_BASE" >/dev/null 2>&1; then
  BASE=$REAL_BASE
else
  log "no container registry reachable: building on a stand-in base"
  standin_base
  BASE=$STANDIN
fi
log "base image: $BASE"

# ---- helpers for the checks --------------------------------------------------------------------
image_cfg() {  # image_cfg IMAGE KEY: the image config's KEY (User, Entrypoint, ...) as JSON
  buildah inspect --type image "$1" \
    | "$HOSTPY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["Docker"]["config"].get(sys.argv[1])))' "$2"
}
new_ctr() {  # CTR = a new working container from image $1, removed at exit
  CTR=$(buildah from --pull-never --quiet "$1")
  CONTAINERS+=("$CTR")
}
# run in a private network namespace (its own loopback): the images' fixed ports cannot collide
in_netns() { unshare --net bash -c 'ip link set lo up && exec "$@"' _ "$@"; }
# JSON list -> bash words, shell-quoted
words() { "$HOSTPY" -c 'import json, shlex, sys; v = json.loads(sys.stdin.read()); print(" ".join(map(shlex.quote, v or [])))'; }

DISTS_PY='import importlib.metadata as md, re
for d in md.distributions():
    print(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() + "==" + d.version)'

# compare_dists LOCK DISTS_FILE MODE(exact|superset): prints the verdict, returns 1 on a mismatch
compare_dists() {
  "$HOSTPY" - "$@" <<'EOF'
import re, sys
lock_path, dists_path, mode = sys.argv[1:4]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
lock = {}
for line in open(lock_path):
    line = line.split("#")[0].strip()
    if line:
        name, ver = line.split("==")
        lock[norm(name.split("[")[0])] = ver.strip()
got = dict(l.strip().split("==", 1) for l in open(dists_path) if l.strip())
own = got.pop("saferoad", None)
missing = sorted(n for n in lock if n not in got)
wrong = sorted(f"{n} {got[n]} (lock {lock[n]})" for n in lock if n in got and got[n] != lock[n])
extra = sorted(f"{n}=={got[n]}" for n in got if n not in lock)
ok = own is not None and not missing and not wrong and (mode == "superset" or not extra)
print(f"{len(got)} distributions + saferoad {own}; lock {lock_path}: {len(lock)} entries; "
      f"missing {missing or 'none'}; other versions {wrong or 'none'}; not in the lock {extra or 'none'}")
sys.exit(0 if ok else 1)
EOF
}

RESULTS=()
FAILED=0
result() { RESULTS+=("$1"); }
check() {  # check TARGET NAME COMMAND...: run, record pass/FAIL
  local t=$1 name=$2; shift 2
  if "$@" > "$WORK/$t-$name.out" 2>&1; then
    result "$t: $name: ok: $(tail -1 "$WORK/$t-$name.out")"
  else
    result "$t: $name: FAIL: $(grep -v -E 'subprocess exited with status|^Error: exit status|[╭╰]' \
      "$WORK/$t-$name.out" | tail -2 | tr -s ' │\n' ' ')"; FAILED=1
  fi
  sed "s/^/   [$t $name] /" "$WORK/$t-$name.out" | tail -8
}

check_user() {
  local img=$1 ctr=$2 user uid
  user=$(image_cfg "$img" User | tr -d '"')
  uid=$(buildah run "$ctr" -- id -u)
  echo "USER $user, id -u $uid"
  [ "$user" = 1000 ] && [ "$uid" = 1000 ]
}

check_dists() {
  local t=$1 ctr=$2 lock=requirements.lock mode=exact
  [ "$t" = edge ] && lock=deploy/requirements-edge.lock
  [ "$t" = eval-worker ] && mode=superset
  buildah run "$ctr" -- python -c "$DISTS_PY" | sort > "$WORK/$t-dists.txt"
  compare_dists "$lock" "$WORK/$t-dists.txt" "$mode"
}

# the command Kubernetes runs for TARGET's container in deploy/k8s/rendered/prod.yaml: its
# `command` or else the image's ENTRYPOINT, then its `args` (or else the image's CMD), shell-quoted
k8s_command() {
  local img=$1 target=$2
  "$HOSTPY" - "$REPO/deploy/k8s/rendered/prod.yaml" "saferoad-$target:" \
    "$(image_cfg "$img" Entrypoint)" "$(image_cfg "$img" Cmd)" <<'EOF'
import json, shlex, sys, yaml
path, image, entrypoint, cmd = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
for doc in yaml.safe_load_all(open(path)):
    if not doc or doc.get("kind") != "Deployment":
        continue
    for c in doc["spec"]["template"]["spec"]["containers"]:
        if image in c["image"]:
            command = c.get("command")
            args = c.get("args")
            if args is None:
                args = cmd if command is None else []
            print(" ".join(map(shlex.quote, (command if command is not None else entrypoint or []) + (args or []))))
            sys.exit(0)
sys.exit(f"no Deployment container runs {image} in {path}")
EOF
}

# COMMAND (one shell-quoted line) in a private netns; the image's HEALTHCHECK until healthy;
# SIGTERM; the HEALTHCHECK again, which must now fail
check_health() {
  local img=$1 ctr=$2 entry=$3 hc
  hc=$(image_cfg "$img" Healthcheck \
       | "$HOSTPY" -c 'import json, shlex, sys; t = json.load(sys.stdin)["Test"]; assert t[0] == "CMD", t; print(" ".join(map(shlex.quote, t[1:])))')
  [ -n "$hc" ] && [ -n "$entry" ] || { echo "no HEALTHCHECK or ENTRYPOINT in the image"; return 1; }
  echo "entrypoint: $entry"; echo "healthcheck: $hc"
  cat > "$WORK/health.sh" <<EOF
set -u
$entry > /tmp/service.log 2>&1 &
pid=\$!
t0=\$(date +%s.%N)
$hc 2>/dev/null && { echo "healthy before the service could have started?"; exit 1; }
ok=0
for i in \$(seq 1 180); do
  if ! kill -0 \$pid 2>/dev/null; then echo "the service exited:"; tail -5 /tmp/service.log; exit 1; fi
  if $hc 2>/tmp/probe.err; then ok=1; break; fi
  sleep 1
done
t1=\$(date +%s.%N)
[ \$ok = 1 ] || { echo "never healthy:"; cat /tmp/probe.err; tail -5 /tmp/service.log; exit 1; }
kill -TERM \$pid; wait \$pid; rc=\$?
if $hc 2>/tmp/probe.err; then echo "still healthy after the service stopped"; exit 1; fi
echo "healthy after \$(python -c "print(round(\$t1 - \$t0, 1))") s; SIGTERM -> exit \$rc; then unhealthy (\$(tail -1 /tmp/probe.err | cut -c1-120))"
EOF
  buildah copy --quiet --chown 1000:1000 "$ctr" "$WORK/health.sh" /tmp/health.sh >/dev/null
  # the gRPC images listen on 0.0.0.0 only with a bearer token (--token-env in their ENTRYPOINT)
  local token; token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  in_netns buildah run --network host -v "$SHARED:/shared:ro" --env SAFEROAD_SHARED=/shared \
    --env "SAFEROAD_INFERENCE_TOKEN=$token" --env "SAFEROAD_ANALYSIS_TOKEN=$token" \
    "$ctr" -- bash /tmp/health.sh
}

check_migrate_sqlite() {
  local img=$1 ctr=$2 entry
  entry=$(image_cfg "$img" Entrypoint | words)
  mkdir -p "$WORK/db" && chown 1000:1000 "$WORK/db"
  eval "buildah run -v $WORK/db:/data --env SAFEROAD_DB_URL=sqlite:////data/saferoad.db $ctr -- $entry"
  eval "buildah run -v $WORK/db:/data --env SAFEROAD_DB_URL=sqlite:////data/saferoad.db $ctr -- $entry"
  "$HOSTPY" - "$WORK/db/saferoad.db" "$REPO/src" <<'EOF'
import sqlite3, sys
sys.path.insert(0, sys.argv[2])
from saferoad.adapters.sql.migrate import head_revision
db = sqlite3.connect(sys.argv[1])
tables = sorted(r[0] for r in db.execute("select name from sqlite_master where type='table'"))
(rev,), = db.execute("select version_num from alembic_version").fetchall()
print(f"sqlite file: {len(tables)} tables ({', '.join(t for t in tables if t != 'alembic_version')}); "
      f"alembic_version {rev}, this checkout's head {head_revision()}")
sys.exit(0 if rev == head_revision() and len(tables) > 1 else 1)
EOF
}

check_migrate_pg() {
  local img=$1 ctr=$2 entry url
  entry=$(image_cfg "$img" Entrypoint | words)
  url=$SAFEROAD_TEST_PG_URL
  eval "buildah run --network host --env SAFEROAD_DB_URL=$url $ctr -- $entry"
  buildah run --network host --env "SAFEROAD_DB_URL=$url" "$ctr" -- python -c '
import os, sqlalchemy as sa
from saferoad.adapters.sql.migrate import head_revision
e = sa.create_engine(os.environ["SAFEROAD_DB_URL"])
with e.connect() as c:
    rev = c.execute(sa.text("select version_num from alembic_version")).scalar_one()
n = len(sa.inspect(e).get_table_names())
print(f"postgresql {e.url.host}:{e.url.port}: {n} tables, alembic_version {rev}, head {head_revision()}")
assert rev == head_revision() and n > 1'
}

check_ray_probes() {
  local ctr=$1
  cat > "$WORK/ray.sh" <<'EOF'
set -u
# KubeRay's default exec probes for a head container (the operator adds them when a pod spec has none)
probe() { wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success \
          && wget -T 2 -q -O- http://localhost:8265/api/gcs_healthz | grep success; }
probe >/dev/null 2>&1 && { echo "probes pass before Ray started?"; exit 1; }
t0=$(date +%s)
ray start --head --num-cpus 1 --include-dashboard true --dashboard-host 127.0.0.1 --disable-usage-stats > /tmp/ray.log 2>&1 \
  || { tail -20 /tmp/ray.log; exit 1; }
ok=0
for i in $(seq 1 90); do probe >/dev/null 2>&1 && { ok=1; break; }; sleep 1; done
[ $ok = 1 ] || { echo "KubeRay's probes never passed"; tail -5 /tmp/ray.log; ray stop --force; exit 1; }
t1=$(date +%s)
python -c "import ray; ray.init(address='auto'); print('cluster cpus', ray.cluster_resources().get('CPU'))" 2>/dev/null | tail -1
ray stop > /dev/null 2>&1
sleep 2
probe >/dev/null 2>&1 && { echo "probes still pass after ray stop"; exit 1; }
echo "KubeRay head probes pass $((t1 - t0)) s after ray start, fail after ray stop; $(ray --version)"
EOF
  buildah copy --quiet --chown 1000:1000 "$ctr" "$WORK/ray.sh" /tmp/ray.sh >/dev/null
  in_netns buildah run --network host "$ctr" -- bash /tmp/ray.sh
}

check_edge_replay() {
  local ctr=$1
  cat > "$WORK/edge.sh" <<'EOF'
set -u
cd /tmp
saferoad simulate harsh_braking -o /tmp/rec > /tmp/sim.log 2>&1 || { tail -5 /tmp/sim.log; exit 1; }
saferoad edge --replay /tmp/rec --speed 0 --spool /tmp/replay.db -o /tmp/out > /tmp/replay.log 2>&1 \
  || { tail -5 /tmp/replay.log; exit 1; }
python -c "
import importlib.util as u, json
ev = [json.loads(l)['type'] for l in open('/tmp/out/events.jsonl')]
cloud = [m for m in ('ray', 'fastapi', 'sqlalchemy', 'grpc', 'pandas', 'matplotlib', 'jinja2', 'alembic') if u.find_spec(m)]
print('replay events', ev, '; cloud modules importable', cloud or 'none')
assert 'harsh_braking' in ev and not cloud"
EOF
  buildah copy --quiet --chown 1000:1000 "$ctr" "$WORK/edge.sh" /tmp/edge.sh >/dev/null
  buildah run -v "$SHARED:/shared:ro" --env SAFEROAD_SHARED=/shared "$ctr" -- bash /tmp/edge.sh
}

start_pg() {
  if [ -n "${SAFEROAD_TEST_PG_URL:-}" ]; then return 0; fi
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then return 1; fi
  # shellcheck source=scripts/services.sh
  source scripts/services.sh
  start_services > /dev/null && PG_STARTED=1
}

# ---- build and check ---------------------------------------------------------------------------
SUMMARY=()
for t in "${TARGETS[@]}"; do
  img=localhost/saferoad-$t:$TAG
  log "build $t -> $img"
  t0=$SECONDS
  if ! timeout "$BUILD_TIMEOUT_S" buildah bud --format docker --pull-never --isolation chroot --force-rm \
      --network host --layers -f deploy/Dockerfile --target "$t" \
      --build-arg PYTHON_IMAGE="$BASE" --build-arg GIT_SHA="$GIT_SHA" -t "$img" . \
      > "$WORK/build-$t.log" 2>&1; then
    tail -20 "$WORK/build-$t.log" >&2
    cp "$WORK/build-$t.log" "$CACHE/build-$t.log"
    SUMMARY+=("$t: BUILD FAILED after $((SECONDS - t0)) s (log: $CACHE/build-$t.log): $(grep -E \
      'unsatisfiable|^error:|^Error:' "$WORK/build-$t.log" | tail -2 | cut -c1-400 | tr '\n' ' ')"); FAILED=1
    continue
  fi
  secs=$((SECONDS - t0))
  size=$(buildah images --format '{{.Size}}' "$img")
  new_ctr "$img"
  venv=$(buildah run "$CTR" -- du -sh /opt/venv | cut -f1)
  SUMMARY+=("$t: built in $secs s, $size (venv $venv)")
  log "$t built in $secs s, $size"
  [ "$CHECK" = 1 ] || continue
  new_ctr "$img"; ctr=$CTR
  check "$t" user check_user "$img" "$ctr"
  check "$t" dists check_dists "$t" "$ctr"
  case $t in
    web|analysis|model-server)
      entry=$(image_cfg "$img" Entrypoint | words)
      [ "$t" = model-server ] && entry="$entry -m yolox-nano"   # the model comes from the Deployment
      check "$t" health check_health "$img" "$ctr" "$entry"
      # what the Deployment runs (deploy/k8s/rendered/prod.yaml: its command/args on this image)
      if entry=$(k8s_command "$img" "$t"); then check "$t" k8s-command check_health "$img" "$ctr" "$entry"
      else result "$t: k8s-command: FAIL: no Deployment runs this image"; FAILED=1; fi ;;
    migrate)
      check "$t" sqlite check_migrate_sqlite "$img" "$ctr"
      if start_pg; then check "$t" postgresql check_migrate_pg "$img" "$ctr"
      else result "$t: postgresql: NOT CHECKED (no SAFEROAD_TEST_PG_URL and no PostgreSQL installed)"; fi ;;
    eval-worker) check "$t" kuberay-probes check_ray_probes "$ctr" ;;
    edge) check "$t" replay check_edge_replay "$ctr" ;;
  esac
done

{
  echo "saferoad images, $(date -u +%FT%TZ), commit $GIT_SHA, base $BASE, buildah $(buildah --version | cut -d' ' -f3)"
  printf '%s\n' "${SUMMARY[@]}" "${RESULTS[@]}"
} | tee "$CACHE/last-run.txt"
exit $FAILED
