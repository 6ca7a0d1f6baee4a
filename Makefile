# heartbeat — build the programs as the article's Makefile does (./hb_server 9000),
# and run every check.

PROGRAMS = hb_client hb_server hb_client1 hb_server1 hb_client_oob hb_server_oob ka_client ka_server
# The lab is a package of its own (lab/, heartbeat-lab): its programs stay in target/release.
LAB_PROGRAMS = hb_lab hb_wire
CARGO ?= cargo

.PHONY: all build lab-build test demo lab bench soak clean check-targets check-windows

all: build
	@for p in $(PROGRAMS); do cp target/release/$$p ./$$p; done
	@echo "built: $(PROGRAMS)"

build:
	$(CARGO) build --release --bins -p heartbeat

lab-build:
	$(CARGO) build --release --bins -p heartbeat-lab

# Everything CI checks, for both packages (the port and lab/): formatting, lints, unit and
# integration tests (the lab's runs every pair through every fate).
test:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

# The article in ten seconds: a server hangs, the client notices.
demo: all
	bash lab/demo.sh

# Every target (lib, programs, tests, benches) compiles for macOS and Windows too, lint-clean:
# cargo clippy --all-targets for each. A target whose standard library is missing fails:
# rustup target add x86_64-apple-darwin x86_64-pc-windows-gnu
TARGETS = x86_64-apple-darwin x86_64-pc-windows-gnu
check-targets:
	@for t in $(TARGETS); do \
	  rustup target list --installed 2>/dev/null | grep -qx $$t || \
	    { echo "check-targets: $$t is not installed: rustup target add $$t"; exit 1; }; \
	  echo "cargo clippy --target $$t --all-targets -- -D warnings"; \
	  $(CARGO) clippy -q --target $$t --all-targets -- -D warnings || exit 1; \
	done

# The Windows build run under Wine against the Linux programs (lab/check-windows.sh):
# apt-get install wine64 gcc-mingw-w64-x86-64; rustup target add x86_64-pc-windows-gnu.
check-windows:
	bash lab/check-windows.sh

# Benchmarks (README "Performance"): a table on stdout and target/bench.json; about 10 min
# (575 s in the last run; the clock table alone, whose longest window is 140 s, takes 3.6 min).
bench:
	$(CARGO) bench --bench bench

# The soak (README "Soak"): each server for SOAK_SECONDS (default 480, the four at once)
# against honest and hostile clients on 127.0.0.1; a table and target/soak.json; exits 1 if
# a server had a false death, a wrong echo, or did not give back its threads, descriptors
# and memory. Not part of `make test`. SOAK_FALSIFY=echo,death,rss shows each check failing.
soak: build
	$(CARGO) bench --bench soak

# The fault lab (docs/LAB.md): every pair through every fate, each across a wire of its own
# (client, router, server in private network namespaces), checked against a packet capture.
# One run, other settings: make lab PAIR=hb SCENARIO=hung IDLE=2 INTERVAL=1 PROBES=2
# Knobs: PAIR SCENARIO IDLE INTERVAL PROBES USER_TIMEOUT WRITE DURATION FLAP NAT_IDLE LOSS
# DELAY JITTER LAB_JOBS (runs at a time, default 4). An empty knob takes the lab's default.
LAB_KNOBS = PAIR SCENARIO IDLE INTERVAL PROBES USER_TIMEOUT WRITE DURATION FLAP NAT_IDLE LOSS DELAY JITTER LAB_JOBS
lab: all lab-build
	@$(foreach k,$(LAB_KNOBS),$(k)="$($(k))") LAB_BIN=target/release bash lab/run.sh

clean:
	$(CARGO) clean
	rm -f $(PROGRAMS) $(LAB_PROGRAMS)

# Fuzz each target for FUZZ_SECONDS (default 60) with cargo fuzz; the stable toolchain
# takes cargo-fuzz's nightly flags with RUSTC_BOOTSTRAP=1. Not part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = readvrec line_reader message
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1) || exit 1; \
	done
