# phasemap build. `make` builds bin/phasemap; `make check` runs every test; `make asan` builds
# with AddressSanitizer + UBSan and runs the tests; `make bench` runs the benchmarks;
# `make demo` installs what is missing, builds and runs the demo job.
PKGS      := petsc hdf5-openmpi scalapack-openmpi openblas
CC        := mpicc
BUILD     ?= build
BINDIR    ?= bin
OPT       ?= -O3 -march=x86-64-v2 -g
GIT_HASH  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
             -Iinclude -Isrc $(PKG_CFLAGS) -DPM_GIT_HASH=\"$(GIT_HASH)\" $(EXTRA_CFLAGS)
LDLIBS    += $(PKG_LIBS) -lz -lm $(EXTRA_LDFLAGS)

LIB_SRC   := $(sort $(wildcard src/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC  := $(sort $(wildcard tests/unit/*.c tests/mpi/*.c tests/tools/*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
DEPS      := $(LIB_OBJ:.o=.d) $(BUILD)/src/main.d

.PHONY: all check asan bench demo clean deps format tests
all: $(BINDIR)/phasemap tests

deps:
	@scripts/install-deps.sh -q

$(BUILD)/libphasemap.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BINDIR)/phasemap: $(BUILD)/src/main.o $(BUILD)/libphasemap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libphasemap.a tests/pm_test.h tests/pm_test_io.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $< $(BUILD)/libphasemap.a -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libphasemap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $< $(BUILD)/libphasemap.a -o $@ $(LDLIBS)

tests: $(TEST_BIN)

check:
	@scripts/install-deps.sh -q
	@$(MAKE) --no-print-directory all
	@BIN=$(BINDIR) TB=$(BUILD)/tests tests/run.sh

asan:
	$(MAKE) BUILD=build-asan BINDIR=build-asan/bin OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all
	@BIN=build-asan/bin TB=build-asan/tests PM_ASAN=1 tests/run.sh

bench: all $(BENCH_BIN)
	@scripts/install-deps.sh -q
	@BIN=$(BINDIR) BB=$(BUILD)/bench bench/run.sh

demo:
	@scripts/install-deps.sh -q
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

format:
	clang-format -i $(LIB_SRC) src/main.c include/phasemap/*.h

clean:
	rm -rf build build-asan bin tests/out

-include $(DEPS)
