# Two commands do all the set-up on a fresh Debian 12 machine:
#   make run   - install what is missing, build in release, run the main job on the built-in default
#   make test  - install what is missing, build, pass every test
SHELL := /bin/bash
APT_PACKAGES := pkg-config libmnl-dev libnetfilter-log-dev iptables nftables iproute2 conntrack python3 util-linux graphviz librsvg2-bin libxml2-utils man-db tshark
SWIFT ?= swift
BIN ?= .build/release/pathtrace
PREFIX ?= /usr/local
DESTDIR ?=
# The man page's date stays the committed page's until `make man` is given another: a rebuild alone
# must not change docs/pathtrace.1 (ManualTests compares it with a fresh generation).
MAN_DATE ?= $(shell date -d "$$(sed -n 's/^\.Dd //p' docs/pathtrace.1)" +%F)

.PHONY: deps build run replay-seed flow-seed test bench lint clean man install install-files uninstall

# tshark's wireshark-common asks whether non-root users may capture: answered "no" beforehand, so the
# install never waits for a debconf prompt.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Link-time optimization across the modules and the packages: 6.5% fewer instructions per replayed
# line (callgrind, `replay --format json` of a 10 MB head of the benchmark file: 248.3 M after
# start-up without, 232.2 M with; text 256.3 M and 236.5 M), for a slower release build.
# The Swift runtime and Foundation linked in: start-up without the dynamic loader's symbol lookups
# (the same 10 MB replay: 202.9 M instructions dynamic, 189.2 M static, about 5 ms a run), and a
# binary that runs on a machine without the Swift toolchain's libraries (89 MB instead of 19 MB).
RELEASE_FLAGS ?= -c release --experimental-lto-mode=full --static-swift-stdlib
export RELEASE_FLAGS

# Only the tool: the test support target needs swift-testing, which has no static library.
build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product pathtrace

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
	$(SWIFT) build --product generate-manual
	$(SWIFT) test --skip-build

bench: build
	scripts/bench-replay.sh

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

# pathtrace.1 from the commands' own definitions (swift-argument-parser's manual generator), with
# the discussions' examples as literal displays and docs/pathtrace.1.extra's sections.
man:
	$(SWIFT) build --product pathtrace
	$(SWIFT) build --product generate-manual
	PATHTRACE_BIN=.build/debug/pathtrace .build/debug/generate-manual scripts/make-man.py --date $(MAN_DATE) -o - \
	  | python3 scripts/make-man.py docs/pathtrace.1.extra > docs/pathtrace.1.tmp
	mv docs/pathtrace.1.tmp docs/pathtrace.1

install: build install-files

# Without building: installs $(BIN) as it is (ManualTests installs the debug build this way).
install-files:
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pathtrace
	install -D -m 644 docs/pathtrace.1 $(DESTDIR)$(PREFIX)/share/man/man1/pathtrace.1
	install -D -m 644 -t $(DESTDIR)$(PREFIX)/share/pathtrace/labs Fixtures/labs/*.json
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(BIN) --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pathtrace
	$(BIN) --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pathtrace
	$(BIN) --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pathtrace.fish

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/share/pathtrace
	rm -f $(DESTDIR)$(PREFIX)/bin/pathtrace $(DESTDIR)$(PREFIX)/share/man/man1/pathtrace.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pathtrace \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pathtrace \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pathtrace.fish

clean:
	rm -rf .build
