#!/usr/bin/env bash
# Fuzzes a switchboard-cloud binary over its whole OpenAPI document, on SQLite and on a throwaway
# PostgreSQL cluster, and sends the hand-written bad-input probes (probe.py). See README.md here.
#
#   scripts/fuzz/run.sh PATH/TO/switchboard-cloud
#
# Exits non-zero when anything fails: an OpenAPI lint problem, a 5xx, an undocumented status code
# or content type, a response body that does not match its schema, an error that is not the JSON
# envelope, or a probe. Needs python3 with venv and PostgreSQL's binaries; PyPI is the only
# network it uses.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH/TO/switchboard-cloud   (an executable service binary)" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

engines="${FUZZ_ENGINES:-sqlite postgres}"          # which databases
max_time="${FUZZ_MAX_TIME:-75}"                     # schemathesis seconds per engine
workers="${FUZZ_WORKERS:-2}"
seed="${FUZZ_SEED:-$RANDOM$RANDOM}"
checks="${FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth}"
phases="${FUZZ_PHASES:-examples,coverage,fuzzing,stateful}"
build="${FUZZ_BUILD_DIR:-${CARGO_TARGET_DIR:-$repo/target}/fuzz}"
out="${FUZZ_OUT:-$build/report}"
venv="$build/venv"

mkdir -p "$build"
rm -rf "$out"
mkdir -p "$out"

# ---- schemathesis, pinned, in a venv under the build dir
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# ---- processes we start, stopped on any exit
tmp="$(mktemp -d /tmp/switchboard-fuzz.XXXXXX)"
pids=()
pg_stop=()
pg_dir=""
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if ((${#pg_stop[@]})); then
    "${pg_stop[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp" ${pg_dir:+"$pg_dir"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_pg() {  # initdb refuses root: run PostgreSQL's programs as `postgres` then
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {  # sets pg_url (not in a subshell: pg_stop must outlive it)
  local pgbin="${SWITCHBOARD_PG_BIN:-}"
  if [ -z "$pgbin" ]; then
    pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  fi
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "fuzz: no PostgreSQL (initdb under /usr/lib/postgresql/*/bin; or set SWITCHBOARD_PG_BIN)" >&2
    return 1
  fi
  local dir port
  dir="$(mktemp -d /tmp/switchboard-fuzz-pg.XXXXXX)"  # its own: $tmp is private to us
  pg_dir="$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  as_pg "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$out/postgres-initdb.log" 2>&1 || return 1
  port="$(free_port)"
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -h 127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null || { cat "$dir/log" >&2; return 1; }
  pg_stop=(as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop)
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres switchboard_fuzz || return 1
  pg_url="postgres://postgres@127.0.0.1:$port/switchboard_fuzz"
}

start_service() {  # engine database_url → sets base
  local engine="$1" url="$2" port data="$tmp/$1"
  port="$(free_port)"
  mkdir -p "$data"
  base="http://127.0.0.1:$port"
  SWITCHBOARD_BIND="127.0.0.1:$port" \
  SWITCHBOARD_DATABASE_URL="$url" \
  SWITCHBOARD_DATA_DIR="$data" \
  SWITCHBOARD_PUBLIC_URL="$base" \
  SWITCHBOARD_ACCESS_TOKEN_TTL_SECS=7200 \
  SWITCHBOARD_LOG_FORMAT=json \
  SWITCHBOARD_LOG=info \
  SWITCHBOARD_WHATSAPP_API_BASE=http://127.0.0.1:9 \
  SWITCHBOARD_TWILIO_API_BASE=http://127.0.0.1:9 \
    "$bin" serve >"$out/$engine-service.log" 2>&1 &
  pids+=($!)
  local service_pid=$!
  for _ in $(seq 1 150); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$base/healthz', timeout=1)" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$service_pid" 2>/dev/null; then
      echo "fuzz: the service exited on $engine; its log:" >&2
      tail -20 "$out/$engine-service.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "fuzz: the service did not answer /healthz on $engine within 30 s" >&2
  return 1
}

signup_token() {  # a fresh business through the API; prints its owner's access token
  python3 - "$base" <<'EOF'
import json, sys, urllib.request, uuid
body = json.dumps({"business_name": "Fuzz Co", "timezone": "Europe/London", "name": "Fuzz Owner",
                   "email": f"fuzz-{uuid.uuid4().hex[:12]}@example.com", "password": "fuzz-password-123"}).encode()
req = urllib.request.Request(sys.argv[1] + "/v1/auth/signup", body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=30))["access_token"])
EOF
}

failed=()
started=$SECONDS
echo "fuzz: binary $bin; engines: $engines; $max_time s of schemathesis each; seed $seed; reports in $out"

for engine in $engines; do
  case "$engine" in
    sqlite) url="sqlite://$tmp/$engine.db?mode=rwc" ;;
    postgres)
      if ! start_postgres; then
        failed+=("postgres: could not start a throwaway cluster")
        continue
      fi
      url="$pg_url"
      ;;
    *) echo "fuzz: unknown engine $engine (sqlite, postgres)" >&2; exit 2 ;;
  esac
  echo
  echo "=== $engine"
  if ! start_service "$engine" "$url"; then
    failed+=("$engine: the service did not start")
    continue
  fi

  # 1. The document as served: lint it (query parameters declared in the path, missing 401/415…)
  python3 -c "import urllib.request; open('$out/$engine-openapi.json','wb').write(urllib.request.urlopen('$base/openapi.json').read())"
  if ! python3 "$here/spec.py" lint "$out/$engine-openapi.json" >"$out/$engine-openapi-lint.txt"; then
    failed+=("$engine: $(tail -1 "$out/$engine-openapi-lint.txt") (see $engine-openapi-lint.txt)")
  fi
  tail -1 "$out/$engine-openapi-lint.txt"
  # ... and the copy schemathesis fuzzes: only parameter locations repaired (see spec.py)
  python3 "$here/spec.py" fix "$out/$engine-openapi.json" "$out/$engine-openapi-fuzzed.json"

  # 2. schemathesis over every operation, signed in as the owner of a fresh business. Logout is
  # left out: it would end the session that the rest of the run uses.
  token="$(signup_token)"
  set +e
  "$venv/bin/st" run "$out/$engine-openapi-fuzzed.json" \
    --url "$base" \
    -H "Authorization: Bearer $token" \
    --checks "$checks" \
    --phases "$phases" \
    --exclude-path /v1/auth/logout \
    --max-time "$max_time" \
    --workers "$workers" \
    --seed "$seed" \
    --generation-allow-x00 true \
    --generation-database none \
    --request-timeout 35 \
    --report ndjson,junit \
    --report-dir "$out/$engine-schemathesis" \
    --no-color ${FUZZ_ST_ARGS:-} >"$out/$engine-schemathesis.log" 2>&1
  st_status=$?
  set -e
  sed -n '/^=* SUMMARY/,$p' "$out/$engine-schemathesis.log" | grep -E "Failures|❌|✅|Test cases|generated|failures" || tail -5 "$out/$engine-schemathesis.log"
  python3 "$here/summarize.py" "$out/$engine-schemathesis"/*.ndjson >"$out/$engine-schemathesis-summary.md" || true
  if [ "$st_status" -ne 0 ]; then
    failed+=("$engine: schemathesis: $(head -1 "$out/$engine-schemathesis-summary.md" | sed 's/^# //') (see $engine-schemathesis-summary.md)")
  fi

  # 3. The hand-written probes (NUL, bad UTF-8, huge numbers, far dates, odd time zones, bodies,
  # deleting a conversation that has messages). A fresh business of their own.
  if ! python3 "$here/probe.py" --base "$base" --engine "$engine" --json "$out/$engine-probes.json" >"$out/$engine-probes.log" 2>&1; then
    failed+=("$engine: probes: $(tail -1 "$out/$engine-probes.log") (see $engine-probes.log)")
  fi
  tail -1 "$out/$engine-probes.log"

  # 4. Server-side errors in the service's own log
  errors="$(grep -c '"level":"ERROR"' "$out/$engine-service.log" || true)"
  echo "service log: $errors ERROR line(s)"

  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  if [ "$engine" = postgres ] && ((${#pg_stop[@]})); then
    "${pg_stop[@]}" >/dev/null 2>&1 || true
    pg_stop=()
  fi
done

echo
echo "fuzz: done in $((SECONDS - started)) s; reports in $out"
if ((${#failed[@]})); then
  echo "fuzz: FAILED:"
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
echo "fuzz: no failures"
