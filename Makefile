# leash: build, demo and test. Run as root (namespaces, nftables, test users).
export PATH := $(PATH):/usr/local/go/bin

GO ?= go
BIN := bin/leash

.PHONY: all build install demo test unit kernel bench clean deps fuzz

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/leash

# Install the binary and the systemd units and enable leash.service (restores
# the table early at boot, without DNS) and leash-daemon.service (runs after
# it: keeps the table in step, collects the denial log). With DESTDIR
# (packaging), files go under it and nothing is enabled.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/leash
	$(DESTDIR)$(SBINDIR)/leash install-service --bindir $(SBINDIR) $(if $(DESTDIR),--root $(DESTDIR))

# The examples name users (apache, oracle, ...) a fresh machine lacks: give
# leash test the examples' own user database instead of creating accounts.
DEMO_USERS := --passwd examples/demo/passwd --group examples/demo/group

# The sandbox demo: every example policy proved against the real kernel in
# throwaway network namespaces, with real processes of the examples' uids.
# The host's firewall and routes are never touched.
demo: deps build
	$(BIN) $(DEMO_USERS) test examples/*.yaml

# Every test: unit, golden, CLI, kernel (namespaces), and leash test over the
# examples. Kernel tests fail instead of skipping when CI is set.
test: deps build
	$(GO) mod tidy -diff
	$(GO) vet ./...
	scripts/host-guard.sh snapshot bin/guard
	$(GO) test -count=1 -timeout 20m ./...
	$(BIN) $(DEMO_USERS) test examples/*.yaml
	$(MAKE) fuzz
	scripts/host-guard.sh verify bin/guard

unit:
	$(GO) test -short ./...

# Bounded fuzzing of the policy front end (FUZZTIME per target): the YAML
# parser and validator, and everything accepted taken through the compiler;
# and the terminal escaping of user-controlled text.
# A failure writes the input to the package's testdata/fuzz as a seed.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./internal/policy
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) ./internal/compile
	$(GO) test -run '^$$' -fuzz '^FuzzField$$' -fuzztime $(FUZZTIME) ./internal/termtext

bench: deps build
	bench/run.sh

clean:
	rm -rf bin
