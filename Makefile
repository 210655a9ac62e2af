# smppd — build, test and benchmark targets. `make test` is the command CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test vet fmt-check fuzz bench microbench reliability clean

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

# The standard end-to-end scenario on this machine (Redis store): smppbench starts the
# simulator and smppd and drives OTP, R1 single and Bulk load; it prints a table per run and
# writes bench-*.json.
bench:
	$(GO) build -o bin/smppd ./cmd/smppd
	$(GO) build -o bin/smppbench ./cmd/smppbench
	bin/smppbench -self -scenario otp -c 64 -rate 2000 -d 10s -json bench-otp.json
	bin/smppbench -self -scenario r1 -c 64 -d 10s -json bench-r1.json
	bin/smppbench -self -scenario bulk -c 4 -bulk 100 -d 10s -json bench-bulk.json

# Micro and loopback benchmarks (codec, session round trips beside go-smpp, simulator).
microbench:
	$(GO) test -run='^$$' -bench=. -benchmem ./smpp/ ./smpp/text/ ./dlt/
	$(GO) test -run='^$$' -bench=SubmitWithReceipts -benchtime=200000x ./smpp/smsc/

clean:
	$(GO) clean -testcache

# The reliability suite (not in `make test`): SIGKILL of smppd under load, carrier
# disconnect storms, a webhook receiver outage and a Redis restart, each counting accepted,
# submitted, receipted, webhooked, lost and duplicated messages. Needs redis-server.
reliability:
	$(GO) build -o bin/smppd ./cmd/smppd
	SMPPD_BIN=$(CURDIR)/bin/smppd $(GO) test -tags reliability -count=1 -timeout 20m -v -run Reliability ./cmd/smppbench/
