#!/usr/bin/env bash
# The whole pipeline on one machine, as a newcomer would run it: register a
# camera, start `platemask serve` (embedded broker), push generated camera
# images over HTTP and through the drop folder, and show where the
# pseudonymised results land.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/platemask
data=demo/data
addr=127.0.0.1:${PLATEMASK_DEMO_PORT:-8080}

rm -rf demo && mkdir -p demo
$bin samples demo/in --count 6
token=$($bin cameras add --data "$data" gate-1 --site north 2>/dev/null)

$bin serve --data "$data" --keys demo/keys.json --listen "$addr" --broker-port -1 >demo/serve.log 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$addr/readyz" >/dev/null && break; sleep 0.2; done

echo "== pushing 3 images over HTTP (POST /v1/images with the camera's bearer token)"
find demo/in -name '*.jpg' | sort | head -3 | while read -r f; do
	curl -sS -H "Authorization: Bearer $token" -H "Content-Type: image/jpeg" \
		--data-binary @"$f" "http://$addr/v1/images"
	echo
done
echo "== dropping 3 images into $data/inbox/gate-1/"
mkdir -p "$data/inbox/gate-1"
find demo/in -name '*.jpg' | sort | tail -3 | while read -r f; do
	cp "$f" "$data/inbox/gate-1/.$(basename "$f").part"
	mv "$data/inbox/gate-1/.$(basename "$f").part" "$data/inbox/gate-1/$(basename "$f")"
done

echo "== waiting for the workers"
for _ in $(seq 150); do
	[ "$(find "$data/out" -name '*.json' 2>/dev/null | wc -l)" -ge 6 ] && break
	sleep 0.2
done
echo "== results in $data/out (opaque names, no metadata, a record beside each image):"
ls -l "$data/out"
first=$(find "$data/out" -name '*.json' | sort | head -1)
[ -n "$first" ] && { echo "== one record ($first):"; cat "$first"; }
curl -s "http://$addr/metrics" | grep -E '^platemask_' | head -12 || true
