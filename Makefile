# Two commands do all the set-up on a fresh Debian 12 machine:
#   make run   - install what is missing, build in release, run the main job on the built-in default
#   make test  - install what is missing, build, pass every test
SHELL := /bin/bash
APT_PACKAGES := pkg-config libmnl-dev libnetfilter-log-dev iptables nftables iproute2 conntrack python3 util-linux graphviz librsvg2-bin libxml2-utils tshark
SWIFT ?= swift
BIN := .build/release/pathtrace

.PHONY: deps build run replay-seed flow-seed test bench lint clean

# tshark's wireshark-common asks whether non-root users may capture: answered "no" beforehand, so the
# install never waits for a debconf prompt.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# The main job: build seed 001's libvirt NAT system in namespaces, trace one TCP connection live, tear down.
run: build
	$(BIN) lab run libvirt-nat

# Replay of the seed 001 dmesg sample with the seed's listings as rulesets.
replay-seed: build
	$(BIN) replay Fixtures/seed/001-libvirt-nat.dmesg \
	  --ruleset filter=Fixtures/seed/001-filter.nvL --ruleset nat=Fixtures/seed/001-nat.nvL

# The seed 001 SYN's walk drawn on the hooks/tables diagram (and as SVG in .build/flow-seed-001.svg).
flow-seed: build
	$(BIN) flow --trace Fixtures/seed/001-libvirt-nat.dmesg \
	  --ruleset filter=Fixtures/seed/001-filter.nvL --ruleset nat=Fixtures/seed/001-nat.nvL
	$(BIN) flow --trace Fixtures/seed/001-libvirt-nat.dmesg \
	  --ruleset filter=Fixtures/seed/001-filter.nvL --ruleset nat=Fixtures/seed/001-nat.nvL \
	  --format svg > .build/flow-seed-001.svg

test: deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: build
	scripts/bench-replay.sh

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

clean:
	rm -rf .build
