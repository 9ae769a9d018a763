# hookd: one Makefile for the library, the server, the tests and the install.
#   make            build/hookd, build/libhookd.a, build/libhookd.so, build/hookd.pc
#   make run        a development server on ./hookd.db
#   make test       unit tests (cmocka), black-box tests (node --test), the dashboard in chromium
#   make browser    the dashboard's browser tests (playwright-core driving Debian's chromium)
#   make asan       the same tests against an AddressSanitizer + UBSan build
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages and the npm test tools

VERSION_MAJOR := 0
VERSION_MINOR := 1
VERSION_PATCH := 0
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share

CC ?= gcc
BUILD ?= build
PKGS := libmicrohttpd libcurl jansson sqlite3 libpq libcrypto
TEST_PKGS := cmocka
# what building and `make run` need; the rest is for the tests and the benchmark
RUN_DEB_PACKAGES := build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev \
	libjansson-dev libsqlite3-dev libpq-dev libssl-dev
DEB_PACKAGES := $(RUN_DEB_PACKAGES) libcmocka-dev postgresql wrk nginx-light curl \
	sqlite3 jq procps redis-server clang libclang-rt-dev gnuplot-nox prometheus chromium

OPT ?= -O2 -g
SAN ?=
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -Iinclude -Isrc -pthread \
	-DHOOKD_VERSION_STRING='"$(VERSION)"' $(CFLAGS)
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

LIB_SRC := $(wildcard src/lib/*.c)
SERVER_SRC := $(wildcard src/core/*.c src/http/*.c src/api/*.c src/store/*.c src/engine/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
# the dashboard's files (web/) and the OpenAPI document (src/api/openapi.json), compiled into the
# server by src/api/embed.sh
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/web_files.o \
	$(BUILD)/obj/gen/openapi.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

SONAME := libhookd.so.$(VERSION_MAJOR)

# `make V=1` shows the full commands.
Q := $(if $(V),,@)
say = $(if $(V),,@echo "  $(1) $(2)")

.PHONY: all run test unit e2e interop browser screenshots install-test examples asan install deps deps-check deps-run \
	deps-check-run clean format bench bench-verify fuzz \
	bench-scale bench-nodes bench-stats

all: $(BUILD)/hookd $(BUILD)/libhookd.a $(BUILD)/libhookd.so $(BUILD)/hookd.pc

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -DHOOKD_BUILDING_LIBRARY -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/web_files.c: $(WEB_FILES) src/api/embed.sh
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q)sh src/api/embed.sh web_files web/ $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/openapi.c: src/api/openapi.json src/api/embed.sh
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q)sh src/api/embed.sh api_openapi src/api/ src/api/openapi.json > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libhookd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libhookd.so: $(LIB_OBJ)
	$(CC) -shared $(SAN) -Wl,-soname,$(SONAME) -Wl,-z,nodelete -o $(BUILD)/$(SONAME).$(VERSION_MINOR).$(VERSION_PATCH) $^ \
		$(shell pkg-config --libs libcrypto)
	ln -sf $(SONAME).$(VERSION_MINOR).$(VERSION_PATCH) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g'

$(BUILD)/hookd.pc: hookd.pc.in Makefile
	@mkdir -p $(BUILD)
	$(PC_SED) $< > $@

$(BUILD)/hookd: $(CLI_OBJ) $(SERVER_OBJ) $(BUILD)/libhookd.a
	$(call say,LD,$@)
	$(Q)$(CC) $(SAN) -pthread -o $@ $(CLI_OBJ) $(SERVER_OBJ) $(BUILD)/libhookd.a $(DEP_LIBS) -lm

# Unit tests may #include the .c under test to reach its statics, so they link
# against everything but the CLI's main.
$(BUILD)/tests/%: tests/unit/%.c $(SERVER_OBJ) $(BUILD)/libhookd.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEP_CFLAGS) $(shell pkg-config --cflags cmocka) -Wno-missing-prototypes \
		-o $@ $< $(filter-out $(patsubst %.c,$(BUILD)/obj/%.o,$(shell sed -n 's/^#include "\(.*\.c\)"/src\/\1/p' $<)),$(SERVER_OBJ)) \
		$(BUILD)/libhookd.a $(DEP_LIBS) $(shell pkg-config --libs cmocka) -lm

# --- running and testing ----------------------------------------------------

# Install what is missing (Debian packages, npm test tools) before building.
# what `make deps` provides that run, test and bench call: any of it missing runs `make deps`
DEP_COMMANDS := wrk nginx redis-server gnuplot sqlite3 jq curl promtool chromium
deps-check:
	@missing=; pkg-config --exists $(PKGS) $(TEST_PKGS) || missing=1; \
	for c in $(DEP_COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	[ node_modules/.installed -nt package-lock.json ] || missing=1; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory deps; fi

# `make run` needs only the build's libraries: not the tests' and the benchmark's world
deps-check-run:
	@pkg-config --exists $(PKGS) || $(MAKE) --no-print-directory deps-run

# apt_install PACKAGES: those of them not installed yet, with sudo unless root
apt_install = SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	if ! dpkg -s $(1) >/dev/null 2>&1; then \
		echo "deps: installing Debian packages"; \
		$$SUDO apt-get update -qq || true; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(1); \
	fi

deps-run:
	@$(call apt_install,$(RUN_DEB_PACKAGES))

deps:
	@$(call apt_install,$(DEB_PACKAGES))
	@command -v node >/dev/null || { echo "deps: Node.js 20 is needed (it comes with the machine)" >&2; exit 1; }
	@[ node_modules/.installed -nt package-lock.json ] || \
		{ npm ci --no-audit --no-fund && mkdir -p node_modules && touch node_modules/.installed; }

run: deps-check-run all
	@mkdir -p $(BUILD)
	./$(BUILD)/hookd serve --db sqlite:hookd.db --allow-http --allow-private $(RUN_FLAGS)

test: deps-check all $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit test-pg e2e test-pg-e2e interop browser install-test

unit: $(UNIT_BIN)
	@set -e; pass=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t; pass=$$((pass+1)); done; \
		echo "unit: $$pass suites passed"

# The store conformance suite against a throwaway PostgreSQL cluster (tests/pg/pg.sh: initdb as
# the postgres user into a temp dir, a server on a free loopback port, stopped and removed after).
.PHONY: test-pg
test-pg: $(BUILD)/tests/test_store
	@echo "== $(BUILD)/tests/test_store on PostgreSQL"
	@bash tests/pg/pg.sh run $(BUILD)/tests/test_store

# The pipeline's core black-box tests and the multi-node test on PostgreSQL (each test file
# starts its own throwaway cluster through tests/pg/pg.sh; each test gets its own database).
.PHONY: test-pg-e2e
test-pg-e2e: all
	HOOKD_BIN=$(abspath $(BUILD)/hookd) node --test --test-concurrency=1 tests/pg/*.test.js

E2E_FILES ?= tests/e2e/*.test.js
e2e: all
	HOOKD_BIN=$(abspath $(BUILD)/hookd) node --test --test-concurrency=2 $(E2E_FILES)

# The dashboard in headless chromium (tests/browser/lib.js): one file at a time, each with its own
# hookd and browser; they photograph the main pages into $(BUILD)/screenshots, and
# `make screenshots` into docs/screenshots (the README's).
BROWSER_FILES ?= tests/browser/*.test.js
browser: all
	SCREENSHOTS_DIR=$(abspath $(BUILD)/screenshots) HOOKD_BIN=$(abspath $(BUILD)/hookd) \
		node --test --test-concurrency=1 $(BROWSER_FILES)

screenshots: all
	SCREENSHOTS_DIR=$(abspath docs/screenshots) HOOKD_BIN=$(abspath $(BUILD)/hookd) \
		node --test --test-concurrency=1 $(BROWSER_FILES)

INTEROP_FILES ?= tests/interop/*.test.js
interop: all
	CC="$(CC)" HOOKD_BIN=$(abspath $(BUILD)/hookd) node --test --test-concurrency=2 $(INTEROP_FILES)

# make install into a scratch DESTDIR with PREFIX=/usr, then build and run examples/receiver.c
# against that copy through pkg-config (PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR).
install-test: all
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		$(MAKE) -f $(firstword $(MAKEFILE_LIST)) --no-print-directory install DESTDIR="$$tmp" PREFIX=/usr >/dev/null && \
		CC="$(CC)" SAN="$(SAN)" sh tests/interop/install-test.sh "$$tmp"

# The example, built with the project's warnings against this build's static library.
examples: $(BUILD)/examples/receiver
$(BUILD)/examples/receiver: examples/receiver.c $(BUILD)/libhookd.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libhookd.a $(shell pkg-config --libs libcrypto)

asan:
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/hookd
	install -m 755 $(BUILD)/hookd $(DESTDIR)$(BINDIR)/hookd
	install -m 644 include/hookd/*.h $(DESTDIR)$(INCLUDEDIR)/hookd/
	install -d $(DESTDIR)$(DATADIR)/hookd/web
	install -m 644 $(WEB_FILES) $(DESTDIR)$(DATADIR)/hookd/web/
	install -m 644 $(BUILD)/libhookd.a $(DESTDIR)$(LIBDIR)/libhookd.a
	install -m 755 $(BUILD)/$(SONAME).$(VERSION_MINOR).$(VERSION_PATCH) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME).$(VERSION_MINOR).$(VERSION_PATCH) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libhookd.so
	$(PC_SED) hookd.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/hookd.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/hookd.pc

# hookd against the DIY baseline in ../shared/baseline, same machine, same run (bench/bench.sh);
# BENCH_DURATION=10 (wrk seconds), BENCH_BASELINE=0 (hookd only), KEEP=1 (keep logs and the database).
# With PostgreSQL's server installed it also runs on a throwaway cluster (bench/postgres.sh: one node,
# then an api node plus a worker node); BENCH_PG=0 skips that, BENCH_PG_LEASE=30s sets the nodes' --lease.
bench: deps-check all
	bash bench/bench.sh

# hookd's scale curves (bench/scale.sh, not part of make bench): deliveries/s with fan-out to 1 to 1,000
# endpoints, ingest and claim latency with 1,000,000 pending deliveries, bytes on disk per delivery.
# SCALE_FANOUT="1 10 100 1000", SCALE_DELIVERIES=200000, SCALE_PENDING=1000000, SCALE_SECONDS=5, KEEP=1,
# SCALE_FILTER=1 (every fan-out endpoint with a payload filter that the event matches).
bench-scale: deps-check all
	bash bench/scale.sh

# GET /v1/endpoints/{id}/stats on a million stored deliveries and 30 days of stats (bench/stats.sh)
bench-stats: deps-check all
	bash bench/stats.sh

# the scale-out curve (bench/nodes.sh): 1, 2 and 3 `--role all` nodes on one PostgreSQL database, make
# bench's load split among them. NODES_COUNTS="1 2 3", NODES_SECONDS=10, KEEP=1.
bench-nodes: deps-check all
	bash bench/nodes.sh

# libhookd's verify throughput on one core (1 KiB body), beside a bare OpenSSL HMAC.
bench-verify: $(BUILD)/libhookd.a
	@mkdir -p $(BUILD)/bench
	$(Q)$(CC) $(CFLAGS_ALL) -o $(BUILD)/bench/verify bench/verify.c $(BUILD)/libhookd.a \
		$(shell pkg-config --libs libcrypto)
	@$(BUILD)/bench/verify

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

# --- fuzzing (fuzz/README.md) ---------------------------------------------------
# make fuzz: build the libFuzzer targets into build-fuzz/ and run each for FUZZ_SECONDS (60);
# make fuzz-smoke: 5 s each (.ci/run). FUZZ_TARGETS=url picks some. Needs clang and its
# libFuzzer runtime (Debian: clang libclang-rt-dev).
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ALL := jsonv url verify config jsonspan
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	$(WARN) -Iinclude -Isrc -pthread
# Each target links only the sources it fuzzes, and the pkg-config packages they need.
FUZZ_SRC_jsonv := src/core/jsonv.c src/core/eventname.c src/core/err.c src/core/filter.c \
	src/core/mem.c
FUZZ_PKGS_jsonv := jansson
FUZZ_SRC_url := src/engine/urlcheck.c src/core/err.c
FUZZ_PKGS_url := libcurl
FUZZ_SRC_verify := src/lib/verify.c src/lib/sign.c src/lib/secret.c src/lib/mac.c src/lib/ed25519.c
FUZZ_PKGS_verify := libcrypto
FUZZ_SRC_config := src/core/config.c src/core/timeutil.c src/core/log.c src/core/err.c
FUZZ_PKGS_config := jansson
FUZZ_SRC_jsonspan := src/core/jsonspan.c
FUZZ_PKGS_jsonspan := jansson
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz-build fuzz-smoke

$(foreach t,$(FUZZ_ALL),$(eval $(FUZZ_BUILD)/fuzz_$(t): $(FUZZ_SRC_$(t))))
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(wildcard include/hookd/*.h src/*/*.h) Makefile
	@command -v $(FUZZ_CC) >/dev/null || \
		{ echo "fuzz: $(FUZZ_CC) is missing (Debian: apt-get install clang libclang-rt-dev)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(shell pkg-config --cflags jansson libcurl sqlite3 libcrypto) \
		-o $@ $(filter %.c,$^) $(shell pkg-config --libs $(FUZZ_PKGS_$*))

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) bash fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
