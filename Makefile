# smppd — build, test and benchmark targets. `make test` is the command CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test vet fmt-check fuzz bench clean

all: build

build:
	$(GO) build $(PKGS)

# The full test suite: vet, gofmt check, then every test with the race detector. Tests that
# need Redis use REDIS_URL (default 127.0.0.1:6379).
test: vet fmt-check
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Short fuzzing of every parser (FUZZTIME per target, default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodePDU -fuzztime=$(FUZZTIME) ./smpp/
	$(GO) test -run='^$$' -fuzz=FuzzFrameReader -fuzztime=$(FUZZTIME) ./smpp/
	$(GO) test -run='^$$' -fuzz=FuzzParseReceiptText -fuzztime=$(FUZZTIME) ./smpp/

# Micro and loopback benchmarks (codec, session round trips beside go-smpp).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./smpp/ ./smpp/text/

clean:
	$(GO) clean -testcache
