# sluice build. `make` builds everything into build/; `make demo` and
# `make test` are the README's two commands. SAN=1 builds with ASan+UBSan
# into build-asan/.
SAN ?=
ifeq ($(SAN),1)
BUILD ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT = -O1 -g
else
BUILD ?= build
SANFLAGS =
OPT = -O2 -g
endif

CC = gcc
CXX = g++
WARN = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation
CFLAGS = -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -Iinclude -MMD -MP -D_GNU_SOURCE
CXXFLAGS = -std=c++17 $(OPT) -Wall -Wextra -Werror $(SANFLAGS) -Iinclude -MMD -MP
LDFLAGS = $(SANFLAGS)
LDLIBS = -ljansson -lsimdjson -lstdc++ -lsqlite3 -lcurl -lpcre2-8 -lcrypto -lm -lpthread
# The declarative engine's non-JSON decoders (lowcode/decoder.c): XML, CSV, zip,
# gzip; every binary that links libsluice-lowcode needs them.
LDLIBS += -lxml2 -lzip -lz -lcsv
# The CLI also hosts the declarative engine (lowcode/: manifest validate, coverage).
CLI_LIBS = -lfyaml -lmicrohttpd -lpq
# sluice test's documentation suite parses Markdown with CommonMark (libcmark).
CLI_LIBS += -lcmark

LIB_C = $(wildcard lib/*.c)
LIB_CXX = $(wildcard lib/*.cpp)
LIB_OBJ = $(LIB_C:%.c=$(BUILD)/obj/%.o) $(LIB_CXX:%.cpp=$(BUILD)/obj/%.o)
PLAT_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard platform/*.c))
CLI_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/*.c))
# The connector builder (builder/*.c) and its page, embedded by a generator.
BUILDER_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard builder/*.c)) $(BUILD)/obj/builder/assets_gen.o
LOWCODE_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard lowcode/*.c))
LIBSLUICE = $(BUILD)/lib/libsluice.a
LIBPLATFORM = $(BUILD)/lib/libsluice-platform.a
LIBLOWCODE = $(BUILD)/lib/libsluice-lowcode.a

# Every connectors/<name>/ with C sources becomes build/bin/<name>. An
# optional connectors/<name>/build.mk sets LIBS_<name> (extra -l flags) and
# DEPS_<name> (extra archives, e.g. $(LIBLOWCODE)).
-include $(wildcard connectors/*/build.mk)
CONNECTORS = $(patsubst connectors/%/,%,$(dir $(wildcard connectors/*/main.c)))
CONNECTOR_BINS = $(CONNECTORS:%=$(BUILD)/bin/%)

TEST_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/*.c))
TEST_BIN = $(BUILD)/bin/sluice-unit-tests

BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bin/bench-%,$(wildcard bench/*.c))

.PHONY: all demo test test-fast deps deps-test bench clean check-asan docker
all: $(BUILD)/bin/sluice $(CONNECTOR_BINS) $(TEST_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The workspace store's PostgreSQL backend.
$(BUILD)/obj/platform/store_pg.o: CFLAGS += -I/usr/include/postgresql

$(BUILD)/obj/lowcode/decoder.o: CFLAGS += -I/usr/include/libxml2

# The protocol schema is assembled into sluice (.incbin), so it is a prerequisite.
$(BUILD)/obj/platform/protocol_conform.o: platform/protocol_schema.json

$(LIBSLUICE): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBPLATFORM): $(PLAT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBLOWCODE): $(LOWCODE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# npm's graphql (tests/node, installed by setup) is embedded when present: npm
# rewrites .package-lock.json on every install, so the page is regenerated then.
$(BUILD)/gen/builder_assets.c: builder/embed_assets.py $(wildcard builder/assets/*) \
  $(wildcard tests/node/node_modules/.package-lock.json)
	@mkdir -p $(dir $@)
	python3 builder/embed_assets.py builder/assets $@

$(BUILD)/obj/builder/assets_gen.o: $(BUILD)/gen/builder_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bin/sluice: $(CLI_OBJ) $(BUILDER_OBJ) $(LIBPLATFORM) $(LIBLOWCODE) $(LIBSLUICE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

.SECONDARY:
.SECONDEXPANSION:
$(CONNECTOR_BINS): $(BUILD)/bin/%: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard connectors/$$*/*.c))) $$(DEPS_$$*) $(LIBSLUICE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_$*) $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIBPLATFORM) $(LIBLOWCODE) $(LIBSLUICE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(BENCH_BINS): $(BUILD)/bin/bench-%: $(BUILD)/obj/bench/%.o $(LIBSLUICE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/setup.sh build

deps-test:
	@scripts/setup.sh test

# Parallel builds for the two commands of the quick start (one job per core).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

demo: deps
	$(MAKE) -j$(JOBS) all
	scripts/demo.sh

# The full suite: normal build and an ASan/UBSan build of everything.
test: deps-test
	$(MAKE) -j$(JOBS) all
	$(MAKE) -j$(JOBS) SAN=1 all
	tests/run.sh build build-asan

bench: deps-test all $(BENCH_BINS)
	bench/run.sh

# Connector images (needs a Docker engine; says so and skips without one).
docker:
	scripts/docker-build.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
