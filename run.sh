#!/usr/bin/env bash
# Starts one silo and the HTTP API, prints their URLs; Ctrl-C stops both.
#   in memory (not durable):  ./run.sh
#   durable, on Redis:        ConnectionStrings__Redis=localhost:6379 ./run.sh
# The API listens on ASPNETCORE_URLS (default http://127.0.0.1:8080); the silo on Orleans__Endpoints__SiloPort
# (11111) and its gateway on Orleans__Endpoints__GatewayPort (30000), which the API also reads.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

echo "Building (Release)..."
dotnet build "$root/Silo/Silo.csproj" -c Release -nologo -v quiet
dotnet build "$root/Api/Api.csproj" -c Release -nologo -v quiet

export ASPNETCORE_URLS="${ASPNETCORE_URLS:-http://127.0.0.1:8080}"
export Orleans__Endpoints__GatewayPort="${Orleans__Endpoints__GatewayPort:-30000}"
# One machine: advertise (and so listen on) loopback; with Redis the API finds the gateway at this address.
export Orleans__Endpoints__AdvertisedIPAddress="${Orleans__Endpoints__AdvertisedIPAddress:-127.0.0.1}"
api_url="${ASPNETCORE_URLS%%;*}"
api_port="${api_url##*:}"
api_port="${api_port%%/*}"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# Waits until something listens on 127.0.0.1:$1, or fails if process $2 died or $3 seconds pass.
wait_for_port() {
  for _ in $(seq 1 $(( $3 * 4 ))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited before listening on port $1" >&2; return 1; }
    sleep 0.25
  done
  echo "nothing listens on port $1 after $3 s" >&2
  return 1
}

(cd "$root/Silo/bin/Release/net10.0" && exec dotnet OrleansTasks.Silo.dll) &
pids+=($!)
wait_for_port "$Orleans__Endpoints__GatewayPort" "${pids[0]}" 60

(cd "$root/Api/bin/Release/net10.0" && exec dotnet OrleansTasks.Api.dll) &
pids+=($!)
wait_for_port "$api_port" "${pids[1]}" 60

cat <<MSG

OrleansTasks is running.
  API:            $api_url
  API reference:  $api_url/docs
  OpenAPI:        $api_url/openapi/v1.json
  Storage:        ${ConnectionStrings__Redis:+Redis at $ConnectionStrings__Redis}${ConnectionStrings__Redis:-in memory (NOT durable; set ConnectionStrings__Redis)}
Press Ctrl-C to stop.

MSG

# If either process dies, stop the other and report failure.
set +e
wait -n "${pids[@]}"
status=$?
echo "A process exited (status $status)." >&2
exit "$status"
