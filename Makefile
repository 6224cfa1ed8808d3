# arus — see README.md. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build run test unit integration race fuzz lint verify deps bench clean

all: build

build:
	$(GO) build -o bin/arus ./cmd/arus

run:
	$(GO) run ./cmd/arus

# Everything CI runs: formatting/vet checks, unit and client tests with the
# race detector, then the integration suites (kcat, kill -9 crash tests).
test: deps verify race integration

deps:
	./scripts/install-test-deps.sh
	./scripts/install-browser-test-deps.sh

verify:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration ./test/...

race:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

unit:
	$(GO) test -count=1 $(PKGS)

integration:
	$(GO) test -race -count=1 -timeout 20m -tags integration ./test/...

# Run each fuzz target for a while (they also run on their seeds in `make race`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz FuzzCheck -fuzztime $(FUZZTIME) ./internal/guard
	$(GO) test -run '^$$' -fuzz FuzzValidate -fuzztime $(FUZZTIME) ./internal/record
	$(GO) test -run '^$$' -fuzz FuzzFromLegacy -fuzztime $(FUZZTIME) ./internal/record
	$(GO) test -run '^$$' -fuzz FuzzRecover -fuzztime $(FUZZTIME) ./internal/commitlog
	$(GO) test -run '^$$' -fuzz FuzzDecodeProposal -fuzztime $(FUZZTIME) ./internal/quorum
	$(GO) test -run '^$$' -fuzz FuzzWALReplay -fuzztime $(FUZZTIME) ./internal/quorum
	$(GO) test -run '^$$' -fuzz FuzzTransportFrame -fuzztime $(FUZZTIME) ./internal/quorum
	$(GO) test -run '^$$' -fuzz FuzzAuthorize -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz FuzzScramServer -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz FuzzPlainAndJAAS -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz FuzzParseTxnIndex -fuzztime $(FUZZTIME) ./internal/commitlog
	$(GO) test -run '^$$' -fuzz FuzzTxnIndexOpen -fuzztime $(FUZZTIME) ./internal/commitlog

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

clean:
	rm -rf bin
