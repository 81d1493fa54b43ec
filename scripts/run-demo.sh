#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: start slipway-server (board on http://127.0.0.1:8080) and two local agents (demo-staging, demo-prod),
# create the env hello/staging + hello/prod, publish examples/hello as a build and deploy it to staging.
# Ctrl-C stops everything this script started. Running it again reuses var/ (existing envs and builds are fine).
#
# Environment (all optional):
#   SLIPWAY_DEMO_PORT          server port (8080)           SLIPWAY_DEMO_VAR      state directory (var)
#   SLIPWAY_DEMO_STAGING_PORT  app port on staging (8081)   SLIPWAY_DEMO_PROD_PORT  app port on prod (8082)
#   SLIPWAY_BUILD_DIR          CMake build directory (build)
#   SLIPWAY_DEMO_TIMEOUT       seconds to wait for the staging deploy (180)
#   DEMO_EXIT_AFTER_READY=1    non-interactive: exit 0 once staging serves and the app answers, stopping everything
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"

PORT=${SLIPWAY_DEMO_PORT:-8080}
STAGING_PORT=${SLIPWAY_DEMO_STAGING_PORT:-8081}
PROD_PORT=${SLIPWAY_DEMO_PROD_PORT:-8082}
TIMEOUT=${SLIPWAY_DEMO_TIMEOUT:-180}
BUILD_DIR=$(cd "${SLIPWAY_BUILD_DIR:-build}" 2>/dev/null && pwd -P) || {
	echo "run-demo: build directory ${SLIPWAY_BUILD_DIR:-build} not found: run 'make build' first" >&2
	exit 1
}
mkdir -p "${SLIPWAY_DEMO_VAR:-var}"
VAR=$(cd "${SLIPWAY_DEMO_VAR:-var}" && pwd -P)
SERVER_BIN="$BUILD_DIR/src/server/slipway-server"
AGENT_BIN="$BUILD_DIR/src/agent/slipway-agent"
CLI_BIN="$BUILD_DIR/src/cli/slipway"
URL="http://127.0.0.1:$PORT"
TOKEN_FILE="$VAR/admin.token"
AGENT_TOKEN_FILE="$VAR/agents.token"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# The relative path shown to the user for files under var/ (absolute if var/ lives elsewhere).
show() { case $1 in "$ROOT"/*) printf '%s\n' "${1#"$ROOT"/}" ;; *) printf '%s\n' "$1" ;; esac; }
say() { printf '==> %s\n' "$*"; }
warn() { printf 'run-demo: %s\n' "$*" >&2; }
die() {
	warn "error: $*"
	exit 1
}

for bin in "$SERVER_BIN" "$AGENT_BIN"; do
	[ -x "$bin" ] || die "$bin is missing: run 'make build' first"
done
command -v curl >/dev/null || die "curl is needed (scripts/deps.sh test installs it)"

mkdir -p "$VAR/log" "$VAR/run" "$VAR/artifacts"

# ---- process bookkeeping -------------------------------------------------------------------------------------------
# Every long-running child is started with setsid (its own session and process group) and recorded in var/run/, so
# cleanup can signal whole groups and a later run can clear leftovers of a run that was killed with SIGKILL.
PIDS=()

proc_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# Stop the process group led by pid $1 (SIGTERM, then SIGKILL after $2 seconds).
group_stop() {
	local pid=$1 grace=${2:-10} i=0
	proc_alive "$pid" || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	while proc_alive "$pid"; do
		i=$((i + 1))
		if [ "$i" -gt $((grace * 10)) ]; then
			warn "pid $pid did not stop in ${grace}s: SIGKILL"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
}

# A pid file's process, only if its command line still names what we expect (pids get reused).
pidfile_pid() {
	local file=$1 what=$2 pid
	[ -f "$file" ] || return 0
	pid=$(head -n 1 "$file" 2>/dev/null || true)
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	if proc_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$what"; then
		printf '%s\n' "$pid"
	fi
}

# The hello apps that the agents' deploy scripts started (examples/hello keeps its pid in $TARGET.run/).
apps_stop() {
	local f pid
	for f in "$VAR"/agents/*/current/hello.run/hello.pid; do
		[ -f "$f" ] || continue
		pid=$(pidfile_pid "$f" hello-server)
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do proc_alive "$pid" || break; sleep 0.1; done
		proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

leftovers_stop() {
	local name pid
	for name in agent-demo-staging agent-demo-prod server; do
		pid=$(pidfile_pid "$VAR/run/$name.pid" slipway-)
		if [ -n "$pid" ]; then
			warn "stopping $name (pid $pid) left over from an earlier run"
			group_stop "$pid" 15
		fi
		rm -f "$VAR/run/$name.pid"
	done
	apps_stop
}

CLEANED=0
cleanup() {
	local i
	[ "$CLEANED" -eq 0 ] || return 0
	CLEANED=1
	trap '' INT TERM
	say "stopping agents, apps and server"
	# agents first (they finish or kill a running step), then the apps they started, the server last
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		group_stop "${PIDS[$i]}" 20
	done
	apps_stop
	rm -f "$VAR"/run/*.pid
	say "stopped"
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME LOGFILE CMD...: run CMD in its own session, output appended to LOGFILE; its pid goes to LAST_PID.
LAST_PID=""
start() {
	local name=$1 log=$2
	shift 2
	setsid "$@" >>"$log" 2>&1 </dev/null &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	echo "$LAST_PID" >"$VAR/run/$name.pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- HTTP helpers --------------------------------------------------------------------------------------------------
TOKEN=""
# api METHOD PATH [BODY]: sets HTTP_CODE and HTTP_BODY.
api() {
	local method=$1 path=$2 body=${3-} out
	local args=(-sS -X "$method" -H "Authorization: token $TOKEN" -H 'Content-Type: application/json'
		--max-time 30 -w '\n%{http_code}')
	[ -z "$body" ] || args+=(--data-binary "$body")
	out=$(curl "${args[@]}" "$URL$path") || die "$method $path: cannot reach the server at $URL"
	HTTP_CODE=${out##*$'\n'}
	HTTP_BODY=${out%$'\n'*}
}

# api_ok METHOD PATH BODY CODES...: like api, but dies unless the status is one of CODES.
api_ok() {
	local method=$1 path=$2 body=$3 c
	shift 3
	api "$method" "$path" "$body"
	for c in "$@"; do [ "$HTTP_CODE" = "$c" ] && return 0; done
	die "$method $path answered $HTTP_CODE: $HTTP_BODY"
}

# json EXPR: evaluate a Python expression over the JSON document on stdin (bound to `d`; the environment is `env`);
# prints '' for None.
json() {
	"$PY" -c 'import json, os, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d, "env": os.environ})
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))' "$1"
}

# jobj KEY VALUE...: a JSON object of strings (values escaped properly, whatever the paths contain).
jobj() {
	"$PY" -c 'import json, sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' "$@"
}

# ---- 1. server -----------------------------------------------------------------------------------------------------
leftovers_stop
for p in "$PORT" "$STAGING_PORT" "$PROD_PORT"; do
	port_busy "$p" && die "port $p is in use (set SLIPWAY_DEMO_PORT, SLIPWAY_DEMO_STAGING_PORT, SLIPWAY_DEMO_PROD_PORT)"
done

say "starting slipway-server on $URL (log $(show "$VAR/log/server.log"))"
start server "$VAR/log/server.log" "$SERVER_BIN" --listen "127.0.0.1:$PORT" \
	--db "sqlite:$VAR/slipway.db" --admin-token-file "$TOKEN_FILE" \
	--transition-period 1 --promote-period 2 --janitor-period 5 --heartbeat-flush-period 2
SERVER_PID=$LAST_PID

deadline=$((SECONDS + 30))
until curl -fsS --max-time 2 "$URL/healthz" >/dev/null 2>&1; do
	if ! proc_alive "$SERVER_PID"; then
		tail -n 20 "$VAR/log/server.log" >&2 || true
		die "slipway-server exited during start-up (log: $(show "$VAR/log/server.log"))"
	fi
	[ "$SECONDS" -lt "$deadline" ] || die "slipway-server did not answer $URL/healthz within 30 s"
	sleep 0.2
done
[ -s "$TOKEN_FILE" ] || die "no admin token in $TOKEN_FILE (it is written on the first start of a fresh database)"
TOKEN=$(head -n 1 "$TOKEN_FILE")

# ---- 2. envs, capacity, script variables ---------------------------------------------------------------------------
for stage in staging prod; do
	api_ok POST /v1/envs "$(jobj envName hello stageName "$stage" description "make run demo: $stage")" 201 409
	[ "$HTTP_CODE" = 201 ] && say "created env hello/$stage" || say "env hello/$stage exists"
done
api_ok PUT "/v1/envs/hello/staging/capacity?capacityType=HOST" '["demo-staging"]' 204 200
api_ok PUT "/v1/envs/hello/prod/capacity?capacityType=HOST" '["demo-prod"]' 204 200
api_ok PUT /v1/envs/hello/staging/script_configs \
	"$(jobj PORT "$STAGING_PORT" GREETING "Hello from staging" APP_NAME hello)" 204 200
api_ok PUT /v1/envs/hello/prod/script_configs "$(jobj PORT "$PROD_PORT" GREETING "Hello from prod" APP_NAME hello)" 204 200

# ---- 3. agents -----------------------------------------------------------------------------------------------------
# Agents need only PINGER; the demo makes a token for them when the server offers token roles, else uses the admin one.
if [ -s "$AGENT_TOKEN_FILE" ]; then
	# a token kept from an earlier run is useless if var/slipway.db was deleted since
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
		-H "Authorization: token $(head -n 1 "$AGENT_TOKEN_FILE")" "$URL/v1/system/whoami" || true)
	[ "$code" != 401 ] || rm -f "$AGENT_TOKEN_FILE"
fi
if [ ! -s "$AGENT_TOKEN_FILE" ]; then
	api POST /v1/system/token_roles '{"name":"demo-agents","role":"PINGER","expireDate":0}'
	if [ "$HTTP_CODE" = 409 ]; then
		api DELETE /v1/system/token_roles/demo-agents
		api POST /v1/system/token_roles '{"name":"demo-agents","role":"PINGER","expireDate":0}'
	fi
	if [ "$HTTP_CODE" = 201 ]; then
		(umask 077 && printf '%s\n' "$(printf '%s' "$HTTP_BODY" | json 'd["token"]')" >"$AGENT_TOKEN_FILE")
	else
		warn "could not create a PINGER token ($HTTP_CODE); the agents use the admin token"
		AGENT_TOKEN_FILE=$TOKEN_FILE
	fi
fi

agent_start() {
	local host=$1 dir="$VAR/agents/$1"
	mkdir -p "$dir/state" "$dir/builds" "$dir/current" "$dir/log"
	cat >"$dir/agent.conf" <<EOF
# slipway-agent configuration for the local demo host $host (written by scripts/run-demo.sh)
server_url = $URL
token_file = $AGENT_TOKEN_FILE
host_name = $host
host_id = $host
state_dir = $dir/state
builds_dir = $dir/builds
target_dir = $dir/current
log_dir = $dir/log
download_allow_file_dirs = $VAR/artifacts
ping_interval = 2
long_poll = true
long_poll_wait = 20
heartbeat_interval = 5
termination_timeout = 5
max_retry = 2
backoff = 1
backoff_max = 5
keep_builds = 3
EOF
	chmod 600 "$dir/agent.conf"
	say "starting agent $host (config $(show "$dir/agent.conf"), deploy logs $(show "$dir/log"))"
	# HELLO_HOST_NAME tells examples/hello which host it is on (for its FAIL_POST_RESTART switch)
	start "agent-$host" "$VAR/log/agent-$host.log" env HELLO_HOST_NAME="$host" "$AGENT_BIN" --config "$dir/agent.conf"
}
agent_start demo-staging
agent_start demo-prod

# ---- 4. the build --------------------------------------------------------------------------------------------------
pack_out=$(examples/hello/pack.sh "$VAR/artifacts/.hello-pack.tar.gz") || die "examples/hello/pack.sh failed"
COMMIT=$(printf '%s\n' "$pack_out" | sed -n 's/^commit=//p')
SHA256=$(printf '%s\n' "$pack_out" | sed -n 's/^sha256=//p')
ARTIFACT="$VAR/artifacts/hello-$COMMIT.tar.gz"
mv -f "$VAR/artifacts/.hello-pack.tar.gz" "$ARTIFACT"
ARTIFACT_URL="file://$ARTIFACT"

api_ok GET "/v1/builds?name=hello&commit=$COMMIT" "" 200
BUILD_ID=$(printf '%s' "$HTTP_BODY" | SHA256="$SHA256" ARTIFACT_URL="$ARTIFACT_URL" json \
	"next((b['id'] for b in d if b.get('artifactSha256') == env['SHA256'] and b.get('artifactUrl') == env['ARTIFACT_URL']), None)")
if [ -n "$BUILD_ID" ]; then
	say "build $BUILD_ID (commit $COMMIT) is already published"
else
	api_ok POST /v1/builds "$(jobj name hello repo slipway/examples-hello branch main commit "$COMMIT" \
		artifactUrl "$ARTIFACT_URL" artifactSha256 "$SHA256" publishInfo "make run")" 201
	BUILD_ID=$(printf '%s' "$HTTP_BODY" | json 'd["id"]')
	say "published build $BUILD_ID (commit $COMMIT, $(show "$ARTIFACT"))"
fi

# ---- 5. deploy to staging ------------------------------------------------------------------------------------------
# A fresh deploy every run: the app was stopped with the last run, and a new deploy walks every stage again
# (the build stays on disk, so DOWNLOADING is a no-op). Prod, if it has a deploy, is restarted the same way.
api_ok POST "/v1/envs/hello/staging/deploys?buildId=$BUILD_ID&description=make%20run" "" 201
DEPLOY_ID=$(printf '%s' "$HTTP_BODY" | json 'd["id"]')
say "deploying $BUILD_ID to hello/staging (deploy $DEPLOY_ID)"
api GET /v1/envs/hello/prod/deploys/current
if [ "$HTTP_CODE" = 200 ]; then
	api_ok POST "/v1/envs/hello/prod/deploys/current/actions?actionType=RESTART&description=make%20run" "" 201 200
	say "restarting the current deploy of hello/prod"
fi

deadline=$((SECONDS + TIMEOUT))
state="" body="" last=""
while :; do
	for name in server agent-demo-staging; do
		pid=$(head -n 1 "$VAR/run/$name.pid" 2>/dev/null || true)
		if [ -z "$pid" ] || ! proc_alive "$pid"; then
			tail -n 20 "$VAR/log/$name.log" >&2 || true
			die "$name exited (log: $(show "$VAR/log/$name.log"))"
		fi
	done
	api GET "/v1/deploys/$DEPLOY_ID"
	[ "$HTTP_CODE" != 200 ] || state=$(printf '%s' "$HTTP_BODY" | json 'd["state"]')
	api GET /v1/envs/hello/staging/agents
	now="" served=no
	if [ "$HTTP_CODE" = 200 ]; then
		now=$(printf '%s' "$HTTP_BODY" | json '" ".join("%s %s %s" % (a["hostName"], a["deployStage"], a["status"]) for a in d)')
		# a deploy the stage counted no host for yet is already SUCCEEDING: wait for the host itself too
		served=$(printf '%s' "$HTTP_BODY" |
			json "'yes' if d and all(a['deployId'] == '$DEPLOY_ID' and a['deployStage'] == 'SERVING_BUILD' for a in d) else 'no'")
	fi
	now="deploy ${state:-?}, host ${now:-demo-staging has not pinged yet}"
	[ "$now" = "$last" ] || say "staging: $now"
	last=$now
	case $state in
	SUCCEEDING | SUCCEEDED)
		body=$(curl -fsS --max-time 3 "http://127.0.0.1:$STAGING_PORT/" 2>/dev/null || true)
		case $body in *"$BUILD_ID"*) [ "$served" != yes ] || break ;; esac
		;;
	FAILING)
		warn "the staging deploy is FAILING; see $(show "$VAR/agents/demo-staging/log/hello.log")"
		;;
	esac
	if [ "$SECONDS" -ge "$deadline" ]; then
		tail -n 30 "$VAR/agents/demo-staging/log/hello.log" >&2 2>/dev/null || true
		die "staging did not serve $BUILD_ID within $TIMEOUT s (deploy state '${state:-?}')"
	fi
	sleep 0.5
done

printf '%s\n' "$body" | sed 's/^/    app> /'
"$PY" - "$VAR/demo-ready.json" "$URL" "$BUILD_ID" "$COMMIT" "$DEPLOY_ID" "http://127.0.0.1:$STAGING_PORT/" "$body" <<'EOF'
import json, sys
out, url, build, commit, deploy, app, body = sys.argv[1:]
with open(out, "w") as f:
    json.dump({"server": url, "buildId": build, "commit": commit, "deployId": deploy, "appUrl": app,
               "appResponse": body}, f, indent=2)
EOF

cli_path=$(show "$CLI_BIN")
case $cli_path in /*) ;; *) cli_path="./$cli_path" ;; esac
CLI="$cli_path --server $URL --token \$(cat $(show "$TOKEN_FILE"))"
cat <<EOF

Slipway demo is up.
  board:        $URL/login#token=$TOKEN   (signs this browser in with the admin token)
  app:          http://127.0.0.1:$STAGING_PORT/   (hello/staging, build $BUILD_ID)
  prod app:     http://127.0.0.1:$PROD_PORT/   (once you promote staging to prod, below)
  admin token:  $(show "$TOKEN_FILE")
  logs:         $(show "$VAR/log")/  (server, agents)   deploy scripts: $(show "$VAR/agents")/*/log/hello.log

Try next:
  $CLI status hello/staging
  # or set the server and token once (SLIPWAY_SERVER, SLIPWAY_TOKEN) for the commands below:
  export SLIPWAY_SERVER=$URL SLIPWAY_TOKEN=\$(cat $(show "$TOKEN_FILE")); alias slipway=$CLI_BIN
  slipway promote hello/prod --from staging --wait     # then open http://127.0.0.1:$PROD_PORT/
  slipway restart hello/staging --wait
  curl -s -H "Authorization: token \$(cat $(show "$TOKEN_FILE"))" $URL/v1/envs/hello/staging/agents

A build that fails its health check, and a rollback:
  examples/hello/pack.sh --bad $(show "$VAR/artifacts/hello-bad.tar.gz")
  B=\$(slipway build publish --name hello --repo slipway/examples-hello --branch main --commit bad1 \\
      --artifact-url file://$VAR/artifacts/hello-bad.tar.gz --artifact $(show "$VAR/artifacts/hello-bad.tar.gz"))
  slipway deploy hello/staging --build \$B --wait     # FAILING at POST_RESTART
  slipway rollback hello/staging --wait

Press Ctrl-C to stop everything.
EOF

if [ "${DEMO_EXIT_AFTER_READY:-0}" = 1 ]; then
	exit 0
fi
while :; do
	for name in server agent-demo-staging agent-demo-prod; do
		pid=$(head -n 1 "$VAR/run/$name.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && ! proc_alive "$pid"; then
			die "$name exited unexpectedly (log: $(show "$VAR/log/$name.log"))"
		fi
	done
	sleep 1
done
