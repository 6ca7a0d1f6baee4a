# heartbeat — build the programs as the article's Makefile does (./hb_server 9000),
# and run every check.

PROGRAMS = hb_client hb_server hb_client1 hb_server1 hb_client_oob hb_server_oob ka_client ka_server
CARGO ?= cargo

.PHONY: all build test demo clean

all: build
	@for p in $(PROGRAMS); do cp target/release/$$p ./$$p; done
	@echo "built: $(PROGRAMS)"

build:
	$(CARGO) build --release --bins

# Everything CI checks: formatting, lints, unit and integration tests.
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

# The article in ten seconds: a server hangs, the client notices.
demo: all
	bash lab/demo.sh

clean:
	$(CARGO) clean
	rm -f $(PROGRAMS)
