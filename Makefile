# SPDX-License-Identifier: ISC
# decoymx -- plain Makefile.  Overridable: CC CFLAGS LDFLAGS PREFIX DESTDIR.
#
#   make                 build ./decoymx
#   make run             install build deps, build, run on 127.0.0.1:2525
#   make check           install test deps, build plain + ASan/UBSan, run tests
#   make bench           benchmarks (not tests)
#   make install         install binary, man pages, sample config
#   make SANITIZE=address,undefined   sanitizer build in build/san/

CC	?= cc
PREFIX	?= /usr/local
DESTDIR	?=
CFLAGS	?= -O2 -g
PKGS	 = libevent sqlite3 libpcap libmaxminddb

WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla \
	   -Wno-format-nonliteral
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifdef SANITIZE
O	?= build/san
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
else
O	?= build/plain
SANFLAGS =
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE \
	     -DFP_OVERRIDE='"$(PREFIX)/share/decoymx/decoymx-fp.fp"' -Icommon -Itarpit -Istore -Ireports \
	     -Isensor -Idaemon $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS	 = $(PKG_LIBS) -lm

SRCS	:= $(wildcard common/*.c tarpit/*.c store/*.c reports/*.c sensor/*.c \
	     daemon/*.c)
OBJS	:= $(SRCS:%.c=$(O)/%.o)
LIBOBJS	:= $(filter-out $(O)/daemon/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
BENCH_BINS := $(O)/tests/loadgen $(O)/tests/recent_rss $(O)/tests/floor
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/fuzz/%)
FUZZ_TIME ?= 60
FUZZ_MAKE = $(MAKE) --no-print-directory CC=clang O=build/fuzz \
	    SANITIZE=fuzzer-no-link,address,undefined

BIN	 = $(O)/decoymx

ifeq ($(V),1)
Q	 =
else
Q	 = @
endif

.PHONY: all run check unit bench install clean deps-build deps-test \
	deps-compat compat compat-man \
	fuzz fuzzers deb
all: decoymx

decoymx: $(BIN)
	@if [ "$(O)" = build/plain ]; then cp -f $(BIN) decoymx; fi

$(BIN): $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(OBJS) $(ALL_LDFLAGS) $(LIBS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIBOBJS) $(ALL_LDFLAGS) $(LIBS)

$(O)/tests/recent_rss: tests/bench/recent_rss.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBOBJS) $(ALL_LDFLAGS) $(LIBS)

$(O)/tests/loadgen: tests/bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

$(O)/tests/floor: tests/bench/floor.c
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

unit: $(UNIT_BINS) $(BIN)

# libFuzzer harnesses: the code under test is instrumented
# (fuzzer-no-link), the harness links the fuzzer's main.
$(O)/fuzz/%: tests/fuzz/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/fuzz -fsanitize=fuzzer -o $@ $< \
	    $(LIBOBJS) $(ALL_LDFLAGS) $(LIBS)

fuzzers: $(FUZZ_BINS)

# make fuzz [FUZZ_TIME=seconds]: each harness for FUZZ_TIME seconds,
# growing a corpus under build/fuzz/corpus/ from tests/fuzz/corpus/.
fuzz: deps-test
	@$(FUZZ_MAKE) fuzzers
	@tests/fuzz/run build/fuzz $(FUZZ_TIME)

deps-build:
	@scripts/install-deps build

deps-test:
	@scripts/install-deps test

deps-compat:
	@scripts/install-deps compat

# deps-compat: the test set plus the .debs of the sending MTAs that
# tests/e2e/test_compat.py and make compat run (never installed).
# make compat: the compatibility matrix with real MTAs (tests/compat/run;
# root, network namespaces, several minutes; not part of check).  Prints
# the table and keeps it in build/compat/; make compat-man then writes
# that table into dist/decoymx.8 (section COMPATIBILITY).
compat: deps-compat
	@$(MAKE) --no-print-directory all
	@mkdir -p build/compat
	DECOYMX_BIN=$(BIN) tests/compat/run --json build/compat/matrix.json \
	    | tee build/compat/matrix.txt

compat-man:
	tests/compat/run --from-json build/compat/matrix.json \
	    --man dist/decoymx.8

run: deps-build
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	./decoymx run -c dist/decoymx-dev.conf --user "$$(id -un)"

# The test suite: unit programs and integration tests against the plain
# build, then the same again against an ASan+UBSan build.  The last line
# of output is the total "N passed, N failed".
check: deps-compat
	@python3 scripts/check-layering -q
	@$(MAKE) --no-print-directory all unit $(O)/tests/loadgen
	@$(MAKE) --no-print-directory SANITIZE=address,undefined unit
	@$(FUZZ_MAKE) fuzzers
	@tests/run-all build/plain build/san

bench: deps-test
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@tests/bench/run-bench $(O)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/decoymx
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/decoymx
	install -m 0644 dist/decoymx.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 dist/decoymx.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 dist/decoymx.conf $(DESTDIR)$(PREFIX)/share/doc/decoymx/
	install -d $(DESTDIR)$(PREFIX)/share/decoymx
	install -m 0644 dist/decoymx-fp.fp $(DESTDIR)$(PREFIX)/share/decoymx/
	install -d $(DESTDIR)$(PREFIX)/share/doc/decoymx/examples/filter.d \
	    $(DESTDIR)$(PREFIX)/share/doc/decoymx/examples/action.d \
	    $(DESTDIR)$(PREFIX)/share/doc/decoymx/examples/jail.d
	install -m 0644 dist/nft/decoymx.nft \
	    $(DESTDIR)$(PREFIX)/share/doc/decoymx/examples/
	for d in filter.d action.d jail.d; do \
	    install -m 0644 dist/fail2ban/$$d/*.conf \
	    $(DESTDIR)$(PREFIX)/share/doc/decoymx/examples/$$d/; done

# make deb: build/deb/decoymx_VERSION_ARCH.deb with plain dpkg-deb (see
# dist/debian/build-deb; needs dpkg-dev for dpkg-shlibdeps and the flags).
deb: all
	@MAKE="$(MAKE)" dist/debian/build-deb

clean:
	rm -rf build decoymx

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d) $(FUZZ_BINS:=.d)
