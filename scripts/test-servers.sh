#!/usr/bin/env bash
# Installs the local servers the store tests run against, into .cache/
# (gitignored): versitygw (an S3 server, built from the Go module proxy)
# and Azurite (Microsoft's Azure Storage emulator, from npm). Idempotent.
# Tests find them there, or through PLATEMASK_VERSITYGW / PLATEMASK_AZURITE.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSITYGW_VERSION=v1.8.0
AZURITE_VERSION=3.35.0
GO=${GO:-go}
mkdir -p .cache/bin

if [ ! -x .cache/bin/versitygw ] || [ "$(cat .cache/bin/versitygw.version 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
	echo "test-servers: building versitygw $VERSITYGW_VERSION (a few minutes, once)"
	GOBIN="$PWD/.cache/bin" GOFLAGS=-buildvcs=false "$GO" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
	echo "$VERSITYGW_VERSION" > .cache/bin/versitygw.version
fi

if [ ! -x .cache/azurite/node_modules/.bin/azurite-blob ] || [ "$(cat .cache/azurite/version 2>/dev/null)" != "$AZURITE_VERSION" ]; then
	command -v npm >/dev/null || { echo "test-servers: npm is needed for Azurite (apt-get install nodejs npm)" >&2; exit 1; }
	echo "test-servers: installing azurite $AZURITE_VERSION"
	npm install --prefix .cache/azurite --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
	echo "$AZURITE_VERSION" > .cache/azurite/version
fi
echo "test-servers: versitygw and azurite ready under .cache/"
