#!/usr/bin/env bash
# Keeps the docs from drifting from the code. Fails (exit 1) when:
#  1. a relative link in README.md or docs/*.md points to a file that does not exist;
#  2. a flag the docs show for colod (docs/agent.md, docs/deploy.md, docs/operations.md) or
#     coloctl (docs/coloctl.md, docs/operations.md) is not in the program's --help;
#  3. a metric docs/grafana-dashboard.json queries is documented nowhere in docs/;
#  4. a command in a docs code block marked for checking exits non-zero. A block is marked by a
#     line `<!-- check -->` right before its ```sh fence. The commands run as root against a
#     colod started for the check in a kubelet-shaped tree colo-test-docs-<pid> (one LS and one
#     BE container with a busy process each), with a private pin dir, socket and state dir:
#     `colod` and `coloctl` in the blocks are wrappers that point at them; $LS_ID and $BE_ID
#     hold the two container ids. Everything is removed afterwards. /run/colo/colod.sock in a
#     command is replaced by the check's socket.
# Usage: scripts/check-docs.sh [build-dir]        (default: build; needs colod and coloctl)
# As non-root, part 4 is skipped (exit 77 for ctest), or fails with
# COLO_REQUIRE_PRIVILEGED_TESTS=1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
COLOD=$BUILD/userspace/agent/colod
COLOCTL=$BUILD/userspace/cli/coloctl
bad=0
err() { echo "check-docs: $*" >&2; bad=1; }
for b in "$COLOD" "$COLOCTL"; do
  [[ -x $b ]] || { echo "check-docs: $b missing: cmake --build $BUILD --target colod coloctl" >&2; exit 1; }
done

# 1. Links.
for md in README.md docs/*.md; do
  while read -r link; do
    target=${link%%#*}
    [[ -z $target || $target == http* || $target == mailto:* ]] && continue
    [[ -e $(dirname "$md")/$target ]] || err "$md: broken link $link"
  done < <(grep -o '\](\([^)]*\))' "$md" | sed 's/^](\(.*\))$/\1/')
done

# 2. Flags. A flag is a backticked `--name` or `--name=...`; `-` and `_` are interchangeable.
colod_help=$("$COLOD" --help 2>&1 | tr '-' '_')
coloctl_help=$({
  "$COLOCTL" --help
  for c in maps top hist features revisions rollback; do "$COLOCTL" help "$c"; done
} 2>&1 | tr '-' '_')
flags_in() { grep -oh '`--[a-z][a-z0-9_-]*' "$@" | sed 's/^`--//' | tr '-' '_' | sort -u; }
# Flags of other programs that these pages mention in passing.
not_colod='^(check_health|listen|url_prefix|node_cache|threads|max_body_bytes|read_timeout_ms|max_connections|unix_socket|nodes_file|kubeconfig|tls_cert|tls_key|duration|ls|no_colod|keep|skip_build|out|slo_ms|be_qos|iterations|sort|limit|interval|json|pin_dir_flag)$'
for f in $(flags_in docs/agent.md docs/deploy.md); do
  [[ $f =~ $not_colod ]] && continue
  grep -q -- "_$f" <<<"$colod_help" || grep -q -- "$f" <<<"$colod_help" || err "colod has no flag --$f (docs/agent.md or docs/deploy.md)"
done
# coloctl.md also names colod's flags (`--api_socket`, `--cgroup_root`) when it explains them.
for f in $(flags_in docs/coloctl.md); do
  grep -q -- "$f" <<<"$coloctl_help$colod_help" || err "coloctl has no flag --$f (docs/coloctl.md)"
done
# operations.md: flags on coloctl/colod command lines in its code blocks.
if [[ -f docs/operations.md ]]; then
  while read -r line; do
    prog=$(grep -o 'colo\(ctl\|d\)' <<<"$line" | head -1)
    for f in $(grep -o -- '--[a-z][a-z0-9_-]*' <<<"$line" | sed 's/^--//' | tr '-' '_'); do
      if [[ $prog == coloctl ]]; then help=$coloctl_help; else help=$colod_help; fi
      grep -q -- "$f" <<<"$help" || err "docs/operations.md: $prog has no flag --$f: $line"
    done
  done < <(grep -E '^(\$ )?(colod|coloctl) ' docs/operations.md)
fi

# 3. Dashboard metrics are documented.
if [[ -f docs/grafana-dashboard.json ]]; then
  for m in $(python3 -c '
import json, re
d = json.load(open("docs/grafana-dashboard.json"))
names = set()
for p in d["panels"]:
    for t in p.get("targets", []):
        names.update(re.findall(r"\bcolo_[a-z0-9_]+", t["expr"]))
print("\n".join(sorted(names)))'); do
    base=${m%_bucket}
    grep -rq -- "$base" docs/*.md || err "docs/grafana-dashboard.json: metric $m is not documented in docs/"
  done
fi

# 4. Marked commands.
blocks=$(mktemp /tmp/colo-check-docs.XXXXXX)
trap 'rm -f "$blocks"' EXIT
# CHECK_DOCS_FILES (space-separated) replaces the list of pages scanned for marked blocks.
# shellcheck disable=SC2086
python3 - "$blocks" ${CHECK_DOCS_FILES:-docs/*.md README.md} <<'PY'
import sys
out = open(sys.argv[1], "w")
n = 0
for path in sys.argv[2:]:
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "<!-- check -->" and i + 1 < len(lines) and lines[i + 1].startswith("```sh"):
            i += 2
            while i < len(lines) and not lines[i].startswith("```"):
                cmd = lines[i].strip()
                if cmd and not cmd.startswith("#"):
                    if cmd.startswith("$ "):
                        cmd = cmd[2:]
                    out.write("%s:%d\t%s\n" % (path, i + 1, cmd))
                    n += 1
                i += 1
        i += 1
out.close()
PY
ncmd=$(wc -l <"$blocks")
if [[ $(id -u) -ne 0 ]]; then
  if [[ ${COLO_REQUIRE_PRIVILEGED_TESTS:-0} == 1 ]]; then
    err "the $ncmd marked commands need root (COLO_REQUIRE_PRIVILEGED_TESTS=1)"
    exit 1
  fi
  echo "check-docs: static checks $( ((bad)) && echo FAILED || echo ok); $ncmd marked commands skipped (not root)"
  ((bad)) && exit 1
  exit 77
fi

NAME=colo-test-docs-$$
WORK=$(mktemp -d /tmp/colo-check-docs.XXXXXX)
PIN=/sys/fs/bpf/$NAME
V1_CPU=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
HIERS=()
if [[ -n $V1_CPU ]]; then
  while read -r mnt opts; do
    case ",$opts," in *,cpu,* | *,cpuacct,* | *,cpuset,* | *,memory,*) HIERS+=("$mnt") ;; esac
  done < <(awk '$9 == "cgroup" {print $5, $NF}' /proc/self/mountinfo | sort -u)
else
  HIERS=("$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)")
fi
LS_POD=pod$(cat /proc/sys/kernel/random/uuid) BE_POD=pod$(cat /proc/sys/kernel/random/uuid)
LS_ID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
BE_ID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export LS_ID BE_ID
KP=/$NAME/kubepods
DIRS=("/$NAME" "$KP" "$KP/burstable" "$KP/burstable/$LS_POD" "$KP/burstable/$LS_POD/$LS_ID"
  "$KP/besteffort" "$KP/besteffort/$BE_POD" "$KP/besteffort/$BE_POD/$BE_ID")
colod_pid=""
hogs=()
cleanup() {
  [[ -n $colod_pid ]] && kill -TERM "$colod_pid" 2>/dev/null && wait "$colod_pid" 2>/dev/null
  for p in "${hogs[@]}"; do kill -KILL "$p" 2>/dev/null; { wait "$p"; } 2>/dev/null; done
  local i h d
  for ((i = ${#DIRS[@]} - 1; i >= 0; i--)); do
    for h in "${HIERS[@]}"; do
      d=$h${DIRS[i]}
      [[ -d $d ]] || continue
      for _ in $(seq 50); do
        while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$d/cgroup.procs"
        rmdir "$d" 2>/dev/null && break
        sleep 0.1
      done
    done
  done
  rm -rf "$WORK" "$PIN" "$blocks"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for d in "${DIRS[@]}"; do
  for h in "${HIERS[@]}"; do
    mkdir "$h$d" || { err "cannot create $h$d"; exit 1; }
    if [[ -n $V1_CPU && -f $h$d/cpuset.cpus ]]; then
      cat "$(dirname "$h$d")/cpuset.cpus" >"$h$d/cpuset.cpus"
      cat "$(dirname "$h$d")/cpuset.mems" >"$h$d/cpuset.mems"
    fi
  done
  if [[ -z $V1_CPU && $d != */$LS_ID && $d != */$BE_ID ]]; then
    echo "+cpu +cpuset +memory" >"${HIERS[0]}$d/cgroup.subtree_control"
  fi
done
for c in "$KP/burstable/$LS_POD/$LS_ID" "$KP/besteffort/$BE_POD/$BE_ID"; do
  (for h in "${HIERS[@]}"; do echo $BASHPID >"$h$c/cgroup.procs"; done
   exec taskset -c 0 sh -c 'while :; do :; done') &
  hogs+=($!)
done
cat >"$WORK/colod.yaml" <<EOF
cgroup_root: $KP
api_socket: $WORK/colod.sock
pin_dir: $PIN
tick_ms: 200
policy: {}
EOF
"$COLOD" --config="$WORK/colod.yaml" --state_dir="$WORK/state" >"$WORK/colod.log" 2>&1 &
colod_pid=$!
for _ in $(seq 150); do
  curl -sf --unix-socket "$WORK/colod.sock" http://colod/healthz >/dev/null 2>&1 && break
  kill -0 "$colod_pid" 2>/dev/null || break
  sleep 0.1
done
curl -sf --unix-socket "$WORK/colod.sock" http://colod/healthz >/dev/null 2>&1 || {
  cat "$WORK/colod.log" >&2
  err "colod did not become healthy"
  exit 1
}
sleep 1  # a few ticks: windows and plans to show

# Wrappers: the docs' plain `coloctl ...` / `colod ...` reach this colod.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/coloctl" <<EOF
#!/usr/bin/env bash
cmd=""
for a in "\$@"; do [[ \$a != -* ]] && { cmd=\$a; break; }; done
extra=()
[[ \$cmd == revisions || \$cmd == rollback ]] && extra=(--state_dir="$WORK/state")
exec "$COLOCTL" --pin_dir="$PIN" --socket="$WORK/colod.sock" "\$@" "\${extra[@]}"
EOF
cat >"$WORK/bin/colod" <<EOF
#!/usr/bin/env bash
exec "$COLOD" "\$@"
EOF
chmod +x "$WORK/bin/coloctl" "$WORK/bin/colod"
export COLO_SOCKET=$WORK/colod.sock
run=0
while IFS=$'\t' read -r where cmd; do
  run=$((run + 1))
  cmd=${cmd//\/run\/colo\/colod.sock/$WORK/colod.sock}
  if ! out=$(PATH=$WORK/bin:$PATH timeout 30 bash -c "$cmd" 2>&1 </dev/null); then
    err "$where: \`$cmd\` failed:"
    sed 's/^/    /' <<<"$out" | tail -15 >&2
  fi
done <"$blocks"
echo "check-docs: $run marked commands run against colod (pid $colod_pid, tree /$NAME)"
((bad)) && { echo "check-docs: FAILED" >&2; exit 1; }
echo "check-docs: ok"
