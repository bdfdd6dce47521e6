# zkgo — see README.md. `make run` starts a server; `make test` runs every test.
GO        ?= go
BIN       := bin/zkgo
FUZZTIME  ?= 60s
PKGS      := ./...

.PHONY: all run build test test-short fuzz lint generate check-generate check-deps clean conformance golden

all: build

build:
	$(GO) build -o $(BIN) ./cmd/zkgo

# A standalone server with the embedded default config (127.0.0.1:2181, ./data).
run: build
	./$(BIN) server

# Every test, compat-tests included (they need Java ZooKeeper: see .ci/run).
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 25m $(PKGS)
	$(GO) test -race -count=1 -tags zabsabotage -run '^TestSabotage' ./node/zab/sim/
	$(GO) vet -tags hoptrace ./internal/hoptrace/ ./proxy/ ./node/
	$(GO) test -count=1 -tags hoptrace ./internal/hoptrace/

# The long differential conformance run against Java ZooKeeper 3.8 (needs
# the zookeeper package): CONFORMANCE_OPS random operations for each of
# CONFORMANCE_SEEDS (default 5 x 200,000 = 1,000,000), plus the scripted
# suite. `make test` runs the short version (4 seeds x 5,000 operations).
CONFORMANCE_SEEDS ?= 101,102,103,104,105
CONFORMANCE_OPS   ?= 200000
conformance:
	CI=true ZKGO_CONFORMANCE_SEEDS=$(CONFORMANCE_SEEDS) ZKGO_CONFORMANCE_OPS=$(CONFORMANCE_OPS) \
	  $(GO) test -count=1 -timeout 0 -v -run '^TestConformance(Random|Scripted)$$' ./compat-tests/

# The long fault run (issue 15; needs root, iproute2, iptables and the
# zookeeper package): FAULTS_SEEDS schedules of FAULTS_DURATION under every
# nemesis (delay included) for each mix (j = Java, z = zkgo; upper case =
# observer). Just over an hour with the defaults (9 mixes x 7 seeds x ~57 s).
# `make test` runs the short version (jjz and zzz, seed 1, 25 s, no delay).
# Failed runs are saved under faults/results/.
FAULTS_MIXES    ?= jjj,jjz,jzz,zzz,jjjzz,jjzzz,zzzzz,jjzZ,zzjJ
FAULTS_SEEDS    ?= 1-7
FAULTS_DURATION ?= 45s
FAULTS_NEMESES  ?= all+delay
.PHONY: faults
faults:
	CI=true ZKGO_FAULTS_MIXES=$(FAULTS_MIXES) ZKGO_FAULTS_SEEDS=$(FAULTS_SEEDS) \
	  ZKGO_FAULTS_DURATION=$(FAULTS_DURATION) ZKGO_FAULTS_NEMESES=$(FAULTS_NEMESES) \
	  $(GO) test -count=1 -timeout 0 -v -run '^Test(Faults|SelfTestTamper)$$' ./faults/

# Reconfigs under faults (issue 17, docs/faults.md "Reconfiguration under
# faults"): every node with reconfigEnabled=true, a driver issuing reconfigs
# through random live members while the workloads run and the nemesis
# injects every fault but delay; then every checker of `make faults`, the
# reconfig history (linearizable with the final configuration) and the
# members' agreement on /zookeeper/config, their roles and their dynamic
# files. About 10 minutes with the defaults (5 mixes x 2 seeds x ~55 s):
# all-zkgo, a zkgo node leading two Java ones (jjz: node 3 leads first),
# a Java node leading two zkgo ones (zzj), and both with an observer
# (jjzZ, zzjJ: observers promoted and demoted too).
FAULTS_RECONFIG_MIXES    ?= zzz,jjz,zzj,jjzZ,zzjJ
FAULTS_RECONFIG_SEEDS    ?= 1-2
FAULTS_RECONFIG_DURATION ?= 30s
.PHONY: faults-reconfig
faults-reconfig:
	CI=true ZKGO_FAULTS_RECONFIG_MIXES=$(FAULTS_RECONFIG_MIXES) ZKGO_FAULTS_RECONFIG_SEEDS=$(FAULTS_RECONFIG_SEEDS) \
	  ZKGO_FAULTS_RECONFIG_DURATION=$(FAULTS_RECONFIG_DURATION) ZKGO_FAULTS_NEMESES=all \
	  $(GO) test -count=1 -timeout 0 -v -run '^TestFaultsReconfig$$' ./faults/

# Every row of the dynamic reconfiguration compat tests (issue 17): the
# interop scenarios, the stock clients' reconfig calls and go-zookeeper's
# test cluster config, over all their member mixes (all-zkgo and the extra
# mixed rows too). `make test` runs each one's all-Java row and its main
# mixed rows. (harness.ZkgoReconfig gates the zkgo rows: were zkgo to
# refuse reconfigEnabled=true again, they would check that refusal.)
.PHONY: test-reconfig
test-reconfig:
	CI=true ZKGO_RECONFIG_ALL=1 $(GO) test -count=1 -timeout 40m -v \
	  -run '^TestCompat_(Reconfig|GozkClusterConfig)' ./compat-tests/

# The byte-corruption sweep's damaged data directories run through zkgo
# and Java ZooKeeper 3.8.0 side by side (one JVM per position, ~10 min);
# prints where the two disagree (docs/durability.md). Never part of
# `make test`, which runs the zkgo-only sweep.
.PHONY: durability-java
durability-java:
	CI=true $(GO) test -tags javasweep -count=1 -timeout 60m -v -run '^TestJavaRecoverySweep$$' ./compat-tests/

# The deterministic Zab simulator (node/zab/sim, docs/zab.md "The
# simulator"): SIM_SEEDS seeds from SIM_FIRST (or, with SIM_WALL=2h, as many
# as fit in that wall time), SIM_JOBS at a time. It reports seeds per
# minute and simulated client writes per second; a failing seed is shrunk
# and printed with a one-line replay command. `make test` runs 2,000 seeds
# (TestSimSeeds) and the sabotage self-test (sim-sabotage).
SIM_SEEDS ?= 10000
SIM_FIRST ?= 1
SIM_WALL  ?=
SIM_JOBS  ?= 1
.PHONY: sim sim-sabotage
sim:
	$(GO) run ./internal/zabsim -seeds=$(SIM_SEEDS) -first=$(SIM_FIRST) -j=$(SIM_JOBS) $(if $(SIM_WALL),-duration-wall=$(SIM_WALL))

# The simulator's self-test: the core broken on purpose (zabsabotage
# builds), each sabotage found within a bounded number of seeds.
sim-sabotage:
	$(GO) test -count=1 -tags zabsabotage -v -run '^TestSabotage' ./node/zab/sim/

# Rewrite the expected output of the Zab scenario scripts
# (node/zab/testdata/*.txt) with what the code prints now; review the diff.
golden:
	$(GO) test -count=1 -run '^TestScripts$$' ./node/zab/ -rewrite

# Unit tests only (no Java, no real servers).
test-short:
	$(GO) test -short -count=1 $(PKGS)

# Run each fuzz target for FUZZTIME (default 60s).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); fi

# Regenerate the Jute records from jute/zookeeper.jute.
generate:
	$(GO) generate ./...

check-generate:
	$(GO) test -count=1 -run TestGeneratedCodeIsFresh ./jute/cmd/jutegen

check-deps:
	$(GO) test -count=1 ./internal/depcheck

clean:
	rm -rf bin

# zkgo side by side with Java ZooKeeper 3.8 in one run (needs the zookeeper
# package); rewrites bench/RESULTS.md. Never part of `make test`.
# bench: the quick profile (< 10 min); bench-full: BENCHMARKS.md's durations.
.PHONY: bench bench-full
bench: build
	./$(BIN) bench compare --profile quick --zkgo $(BIN) --results bench/RESULTS.md --json bench/results.json

bench-full: build
	./$(BIN) bench compare --profile full --zkgo $(BIN) --results bench/RESULTS.md --json bench/results.json

# Only the memory and startup rows (10k idle sessions, then 1M znodes of
# 100 B and a restart), Java and zkgo in one run, printed (RESULTS.md is
# left alone); MEM_FLAGS adds flags, e.g. MEM_FLAGS='--znodes 100000 --znode-size 1024'.
.PHONY: bench-mem
bench-mem: build
	./$(BIN) bench compare --profile quick --only '^$$' --zkgo $(BIN) --results '' $(MEM_FLAGS)

# The same comparison over TLS (issue 18): both servers with a
# secureClientPort and the same certificates (Java: NettyServerCnxnFactory),
# clients with certificates (clientAuth=need); writes bench/RESULTS-TLS.md.
.PHONY: bench-tls
bench-tls: build
	./$(BIN) bench compare --profile quick --tls --only '^(get|exists|serial get|mix 90/10|set|serial set)$$' \
		--zkgo $(BIN) --results bench/RESULTS-TLS.md --json bench/results-tls.json

# 3- and 5-node ensembles side by side (issue 19): all Java, all zkgo, a
# zkgo leader with Java followers and a Java leader with zkgo followers,
# every member on loopback with its own data dir, fsync on, and follower
# restarts (DIFF, SNAP) with a large tree; rewrites bench/ENSEMBLE.md.
# bench-ensemble is the quick profile (< 15 min, restarts with 100k znodes);
# bench-ensemble-full adds the restarts with 1M znodes.
.PHONY: bench-ensemble bench-ensemble-full
bench-ensemble: build
	./$(BIN) bench ensemble --profile quick --zkgo $(BIN) --results bench/ENSEMBLE.md --json bench/ensemble.json

bench-ensemble-full: build
	./$(BIN) bench ensemble --profile full --zkgo $(BIN) --results bench/ENSEMBLE.md --json bench/ensemble.json

# zkgo proxy overhead: the same load directly against a zkgo server and
# through `zkgo proxy`, alternating, in one run; writes bench/PROXY.md.
.PHONY: bench-proxy
bench-proxy: build
	./$(BIN) bench proxy --zkgo $(BIN) --layout shared,split,server-side --results bench/PROXY.md --json bench/proxy.json

# The hand-offs of one serial setData through a standalone server, timed
# by a build with the hoptrace tag (internal/hoptrace, docs/zab.md
# "Measures"). Not a benchmark: a profile of one row of make bench.
.PHONY: hoptrace
hoptrace:
	bench/hoptrace.sh $(HOPTRACE_DURATION)
