# smppd — build, test and benchmark targets. `make test` is the command CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test vet fmt-check fuzz bench flood microbench reliability clean backlog screenshots

all: build

build:
	$(GO) build $(PKGS)

# The full test suite: vet, gofmt check, then every test with the race detector. Tests that
# need Redis use REDIS_URL; unset, the Redis on 127.0.0.1:6379, or, when none answers there,
# a throwaway redis-server on a free port that scripts/with-redis starts and stops.
test: vet fmt-check
	scripts/with-redis $(GO) test -race -count=1 $(PKGS)

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
	$(GO) test -run='^$$' -fuzz=FuzzRewrite -fuzztime=$(FUZZTIME) ./api/shortlink/
	$(GO) test -run='^$$' -fuzz=FuzzServerWrittenError -fuzztime=$(FUZZTIME) ./api/
	$(GO) test -run='^$$' -fuzz=FuzzSession -fuzztime=$(FUZZTIME) ./api/smppfront/
	$(GO) test -run='^$$' -fuzz=FuzzMatch -fuzztime=$(FUZZTIME) ./dlt/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeMsg -fuzztime=$(FUZZTIME) ./store/redisstore/
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./smpp/text/
	$(GO) test -run='^$$' -fuzz=FuzzEncodeGSM7 -fuzztime=$(FUZZTIME) ./smpp/text/
	$(GO) test -run='^$$' -fuzz=FuzzSplit -fuzztime=$(FUZZTIME) ./smpp/text/

# The standard end-to-end scenarios on this machine (Redis store): smppbench starts the
# simulator and smppd and drives OTP, R1 single and Bulk load over HTTP, and the R1 text over
# SMPP (an aggregator's client on 4 transceiver binds to smppd's SMPP front, with DLT TLVs;
# end to end is its receipt back as a deliver_sm), RUNS times each (a fresh smppd each run);
# it prints a table per run, a summary line per run (messages/s end to end, Redis commands
# and CPU per message, smppd CPU per message) and writes bench-*.json. Each run has a
# redis-server of its own (-own-redis) with the production durability settings (append-only
# file, fsync always), so that its INFO counters are the run's alone. Last, a short receipt
# flood (20s instead of `make flood`'s 60s, to keep this target quick).
RUNS ?= 3
bench:
	$(GO) build -o bin/smppd ./cmd/smppd
	$(GO) build -o bin/smppbench ./cmd/smppbench
	bin/smppbench -self -own-redis -runs $(RUNS) -scenario otp -c 64 -rate 2000 -d 10s -json bench-otp.json
	bin/smppbench -self -own-redis -runs $(RUNS) -scenario r1 -c 64 -d 10s -json bench-r1.json
	bin/smppbench -self -own-redis -runs $(RUNS) -scenario smpp -c 64 -d 10s -json bench-smpp.json
	bin/smppbench -self -own-redis -runs $(RUNS) -scenario bulk -c 4 -bulk 100 -d 10s -json bench-bulk.json
	bin/smppbench -own-redis -scenario clicks -links 10000 -c 16 -d 10s -json bench-clicks.json
	bin/smppbench -self -own-redis -scenario flood -receipt-window -1 -receipt-retries 3 -c 100 -d 5s -flood-duration 20s -settle 2m -json bench-flood.json

# Receipt flood: R1 single at concurrency 100 for 5s (so the simulator knows message ids),
# then the simulator replays receipts at FLOOD_RATE/s for FLOOD_DURATION and waits (at most
# -settle) until each is acknowledged or given up; reports receipts sent, acknowledged,
# refused and given up (lost), and smppd's CPU and RSS meanwhile.
FLOOD_RATE ?= 20000
FLOOD_DURATION ?= 60s
flood:
	$(GO) build -o bin/smppd ./cmd/smppd
	$(GO) build -o bin/smppbench ./cmd/smppbench
	bin/smppbench -self -own-redis -scenario flood -receipt-window -1 -receipt-retries 3 -c 100 -d 5s -flood-rate $(FLOOD_RATE) -flood-duration $(FLOOD_DURATION) -settle 5m -json bench-flood.json

# Micro and loopback benchmarks (codec, session round trips beside go-smpp, simulator; group
# commit, receipt log and webhook delivery on Redis at 127.0.0.1:6379).
microbench:
	$(GO) test -run='^$$' -bench=. -benchmem ./smpp/ ./smpp/text/ ./dlt/
	$(GO) test -run='^$$' -bench=SubmitWithReceipts -benchtime=200000x ./smsc/
	$(GO) test -run='^$$' -bench=GroupCommitAccept -benchtime=20000x ./store/redisstore/
	$(GO) test -run='^$$' -bench='Receipt|Apply|WebhookDelivery' -benchtime=3000x ./dlr/

clean:
	$(GO) clean -testcache

# The reliability suite (not in `make test`): smppd SIGKILLed under load and restarted at
# once, one of two instances SIGKILLed, carrier disconnect and unbind storms, a webhook
# receiver outage, a Redis restart and a Redis Cluster master killed, each counting
# accepted, submitted, receipted, webhooked, lost and duplicated messages and the recovery
# time (until every message accepted before the fault is sent and webhooked). smppd runs
# on its default reclaim_after, webhooks.lease and heartbeat_ttl. Needs redis-server and
# redis-cli. SMPPD_LOG=1 prints smppd's log (SMPPD_LOG_LEVEL, default warn).
reliability:
	$(GO) build -o bin/smppd ./cmd/smppd
	SMPPD_BIN=$(CURDIR)/bin/smppd $(GO) test -tags reliability -count=1 -timeout 20m -v -run Reliability ./cmd/smppbench/

# smppd's memory with 1,000,000 messages queued in Redis (its own redis-server), draining at
# 2,000/s: queues live in Redis, so the figure should not depend on the backlog.
backlog:
	$(GO) build -o bin/smppd ./cmd/smppd
	$(GO) build -o bin/smppbench ./cmd/smppbench
	bin/smppbench -self -own-redis -scenario backlog -backlog 1000000 -backlog-rate 2000 -d 30s -json bench-backlog.json

# PNG screenshots of every operator console page (docs/console/*.png, shown in
# docs/operations.md): the console's browser test, run against a real smppd, saves each page
# it visits. Needs chromium (apt-get install chromium).
screenshots:
	mkdir -p docs/console
	SMPPD_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./cmd/smppd/
