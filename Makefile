# ezfs: see README.md. `make help` lists the targets.
GO      ?= go
BIN     := bin
GOFLAGS ?=
# 2025.1.1 is the current release, but the module proxy we build from
# serves v0.6.1 only (the same checks, one release older).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.6.1
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help build test test-debian test-workloads check bench bench-quick demo fuzz soak clean clean-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/ezctl and bin/ezbench
	$(GO) build $(GOFLAGS) -o $(BIN)/ezctl ./ctl/ezctl
	$(GO) build $(GOFLAGS) -o $(BIN)/ezbench ./bench

test: build ## vet, then every test that fits in a few minutes, mounted tests included
	$(GO) vet ./...
	$(GO) vet -tags online,workloads,soak ./integration/ # the suites behind their own targets must build too
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) test -count=1 -timeout 5m ./...
	GOMAXPROCS=1 $(GO) test -race -count=1 -timeout 5m ./fs/ ./ctl/ ./mountd/ ./tmpl/... ./internal/...

test-debian: build ## build a real Debian 12 cache from the host's apt sources, use it (needs the Debian mirror)
	$(GO) test -tags online -count=1 -timeout 15m -run TestDebianOnline -v ./integration/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+.*REPORT|\s+.*\.go:)' ; test $${PIPESTATUS[0]} -eq 0

test-workloads: build ## real programs in a Debian container on ezfs and on a plain copy; stress-ng, fio (needs the Debian mirror)
	$(GO) test -tags workloads -count=1 -timeout 9m -run 'TestWorkloads|TestStressNGFilesystem|TestFioVerify' -v ./integration/

soak: build ## 8 processes in each of 4 containers for SOAK (default 60s), then compared with their models
	EZFS_SOAK_DURATION=$${SOAK:-60s} $(GO) test -tags soak -count=1 -timeout 30m -run TestSoak -v ./integration/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+.*\.go:)' ; test $${PIPESTATUS[0]} -eq 0

check: ## vet, gofmt, staticcheck
	$(GO) vet ./...
	$(GO) vet -tags online,workloads,soak ./integration/ # the suites behind their own targets must build too
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags online,workloads,soak ./integration/

bench: build ## the standard benchmark suite: ezfs against native, overlayfs, fuse-overlayfs (needs root, FUSE)
	@mkdir -p bench-out
	@command -v fuse-overlayfs >/dev/null || apt-get install -y -qq fuse-overlayfs >/dev/null || echo "bench: fuse-overlayfs could not be installed; it is skipped"
	@command -v mkfs.btrfs >/dev/null || apt-get install -y -qq btrfs-progs >/dev/null || echo "bench: btrfs-progs could not be installed; the density measurements on btrfs are skipped"
	$(BIN)/ezbench --json bench-out/bench.json --svg bench-out/bench.svg

bench-quick: build ## a short benchmark run, smaller data
	@mkdir -p bench-out
	$(BIN)/ezbench --quick --json bench-out/bench-quick.json --svg bench-out/bench-quick.svg

demo: build ## mount a private tree over host files and show copy-on-write at work
	./scripts/demo.sh

fuzz: ## run every fuzz target for a bounded time each (FUZZTIME, default 20s)
	./scripts/fuzz.sh $${FUZZTIME:-20s}

clean-test: ## unmount and remove what failed test runs left behind
	-@awk '$$3 == "fuse.ezfs" && $$2 ~ "^/tmp/" {print $$2}' /proc/mounts | xargs -r -n1 umount -l
	-@rm -rf /tmp/ezfs-demo.* /tmp/ezbench.*

clean: ## remove build output
	rm -rf $(BIN)
