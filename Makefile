# platemask — common tasks. `make demo` and `make test` work on a fresh
# Debian machine with Go installed.

GO ?= go
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopencv-dev opencv-data libjpeg-dev pkg-config nodejs npm curl

.PHONY: setup build demo demo-redact test bench vet clean test-servers

# System libraries: OpenCV 4.6 and its data files (the Haar plate cascade),
# libjpeg-turbo's headers (rewriting only the blocks under plates), and npm
# for the Azure Storage emulator the tests run against.
setup:
	@if pkg-config --exists opencv4 libjpeg && [ -f /usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml ] && command -v npm >/dev/null && command -v curl >/dev/null; then \
		echo "setup: OpenCV $$(pkg-config --modversion opencv4) and npm present"; \
	else \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES); \
	fi

build: setup
	$(GO) build -o bin/platemask ./cmd/platemask

# The pipeline on one machine: register a camera, start serve, push sample
# camera images over HTTP and the drop folder, show the results.
demo: build
	scripts/demo.sh

# No queue: redact a folder of sample images straight into demo/out.
demo-redact: build
	rm -rf demo && bin/platemask samples demo/in
	bin/platemask redact --keys demo/keys.json --out demo/out --manifest demo/manifest.csv demo/in
	@echo; echo "inputs:  demo/in   outputs: demo/out   mapping: demo/manifest.csv"; cat demo/manifest.csv

vet:
	test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet ./...

# Unit, integration and dataset tests against real servers, then the
# Mat-leak check.
test: setup test-servers vet
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -tags matprofile -run 'NoMatLeaks' -v ./redact

# Speed against the codec floor, one core: generated 1080p scenes, and the
# labelled photos in ../shared; then serve against redact on the same images.
bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 40x ./redact
	$(GO) test -run '^$$' -bench ServeVsRedact -benchtime 1x ./command/serve

clean:
	rm -rf bin demo

# Local S3 (versitygw) and Azure Blob (Azurite) servers for the store,
# reprocess, audit and share tests, installed under .cache/ (gitignored).
test-servers:
	GO=$(GO) scripts/test-servers.sh
