# spot-deliver: make, make check, make install PREFIX=... DESTDIR=... SYSCONFDIR=..., make deb, make clean
VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = gmime-3.0 libcurl libcjson libcrypto
CFLAGS ?= -O2 -g
# Diagnostics are cut to fixed buffers on purpose: no -Wformat-truncation.
WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-truncation
DEPFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEPLIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
# CPPFLAGS and LDFLAGS come from the caller too (dpkg-buildflags: fortify, relro, now);
# fortify by default, so that make check sees what the package build sees.
CPPFLAGS ?= -D_FORTIFY_SOURCE=2
# SYSCONFDIR is compiled in: the binary reads $(SYSCONFDIR)/spot-deliver.conf.
ALL_CFLAGS = $(WARN) -D_DEFAULT_SOURCE -D_GNU_SOURCE -DVERSION='"$(VERSION)"' \
    -DSYSCONFDIR='"$(SYSCONFDIR)"' -Isrc $(DEPFLAGS) $(CPPFLAGS) $(CFLAGS)

# O is the build directory: "." for the normal build, build-asan for the
# sanitizer build that make check runs as well.
O ?= .
SRC = src/util.c src/config.c src/log.c src/msg.c src/http.c src/rspamd.c \
      src/spot.c src/identity.c src/decide.c src/rewrite.c src/scan.c src/deliver.c \
      src/report.c src/run.c src/state.c src/upstream.c src/skip.c src/stats.c src/selftest.c \
      src/age.c src/corelimit.c src/url.c
OBJ = $(SRC:%.c=$(O)/%.o)
UNIT_NAMES = test-config test-rspamd test-rewrite test-decide test-spot test-state test-age \
    test-identity test-upstream
UNIT = $(UNIT_NAMES:%=$(O)/tests/unit/%)

all: $(O)/spot-deliver

$(O)/spot-deliver: $(O)/cmd/spot-deliver.o $(O)/libspot.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(O)/cmd/spot-deliver.o $(O)/libspot.a $(DEPLIBS)

$(O)/libspot.a: $(OBJ)
	rm -f $@
	ar rcs $@ $(OBJ)

$(O)/%.o: %.c src/*.h $(O)/.sysconfdir
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Rewritten only when SYSCONFDIR changes, so that the objects follow it.
$(O)/.sysconfdir: FORCE
	@mkdir -p $(@D)
	@echo '$(SYSCONFDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR)' >$@

FORCE:

$(O)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(O)/libspot.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(O)/libspot.a $(DEPLIBS)

unit: $(UNIT)

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

asan:
	$(MAKE) O=build-asan CC=clang CFLAGS="$(ASAN_FLAGS) -Wno-unknown-warning-option" \
	    LDFLAGS="-fsanitize=address,undefined" all unit

# The whole suite runs twice: as built, and under AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/); tests/faults/ writes its tables into
# build-report/ (ignored), never into a tracked file. Then each fuzz target runs
# FUZZ_CHECK_SECONDS, and the unit
# tests and VALGRIND_TESTS run once more under valgrind memcheck (tests/valgrind.sh).
check: all unit asan fuzz-build
	prove tests/unit/*.t tests/*.t tests/faults/*.t
	SPOT_TEST_BIN=$(CURDIR)/build-asan/spot-deliver SPOT_UNIT_DIR=$(CURDIR)/build-asan/tests/unit \
	    ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    prove tests/unit/*.t tests/*.t tests/faults/*.t
	tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_CHECK_SECONDS) $(FUZZ_NAMES)
	SPOT_FAULTS_COMBOS="$(VALGRIND_COMBOS)" tests/valgrind.sh $(CURDIR)/tests/unit $(VALGRIND_TESTS)

# The valgrind pass: the unit tests, and these end-to-end tests with every run of
# spot-deliver under memcheck (SPOT_TEST_WRAPPER); the fault tests with two of their
# four mode/on_timeout pairs (a run under valgrind takes a second).
VALGRIND_TESTS = tests/0100-core.t tests/0200-spot-api.t tests/faults/*.t
VALGRIND_COMBOS = blocking/allow blocking/block

# make fuzz: the libFuzzer targets tests/fuzz/fuzz-NAME.c, built with clang into
# build-fuzz/ with the src objects built for fuzzing, each run FUZZ_SECONDS from its
# seed corpus tests/fuzz/corpus-NAME/ (tests/fuzz/README.md).
FUZZ_O = build-fuzz
FUZZ_NAMES = rewrite rspamd spot config
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 10
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=all

$(O)/tests/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(O)/libspot.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(O)/libspot.a $(DEPLIBS)

fuzz-build:
	$(MAKE) O=$(FUZZ_O) CC=clang CFLAGS="$(FUZZ_FLAGS) -Wno-unknown-warning-option" \
	    $(FUZZ_NAMES:%=$(FUZZ_O)/tests/fuzz/fuzz-%)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# make reliability: the fault tests with the plain build, their tables written
# into docs/reliability.md (the sections between its BEGIN/END markers).
reliability: all
	SPOT_FAULTS_REPORT_DOC=$(CURDIR)/docs/reliability.md prove tests/faults/*.t

# the load test of docs/scaling.md (docs/scaling-results.md)
loadtest:
	scripts/loadtest.sh

install: $(O)/spot-deliver
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)
	install -m 755 $(O)/spot-deliver $(DESTDIR)$(BINDIR)/spot-deliver
	install -m 644 doc/spot-deliver.1 $(DESTDIR)$(MANDIR)/man1/spot-deliver.1
	install -m 644 doc/spot-deliver.conf.5 $(DESTDIR)$(MANDIR)/man5/spot-deliver.conf.5
	install -m 644 doc/spot-deliver.conf.example $(DESTDIR)$(SYSCONFDIR)/spot-deliver.conf.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/spot-deliver $(DESTDIR)$(MANDIR)/man1/spot-deliver.1 \
	    $(DESTDIR)$(MANDIR)/man5/spot-deliver.conf.5 $(DESTDIR)$(SYSCONFDIR)/spot-deliver.conf.example

clean:
	rm -rf spot-deliver libspot.a cmd/*.o src/*.o .sysconfdir $(UNIT) build-asan build-fuzz build-valgrind build-report build-deb

# One file preprocessed with the build's flags: make -s cpp F=src/decide.c
cpp:
	$(CC) $(ALL_CFLAGS) -E $(F)

.PHONY: all unit check asan install uninstall clean loadtest fuzz fuzz-build reliability deb cpp FORCE

# make deb: the Debian package (debian/), built by dpkg-buildpackage in a copy
# of the tree under DEB_O, so that the tree stays clean; the .deb, .changes and
# .buildinfo land in DEB_O (those of an earlier make deb are removed first).
# Needs scripts/install-deps.sh deb; root is not needed. MAKEFLAGS is dropped:
# the package builds as dpkg-buildpackage alone would build it.
DEB_O ?= build-deb
DEB_TREE = $(DEB_O)/spot-deliver-$(VERSION)
DEB_FILES = Makefile LICENSE README.md VIOLATIONS.md cmd src doc docs tests debian

deb:
	@test -n '$(DEB_O)' || { echo 'make deb: DEB_O is empty' >&2; exit 1; }
	rm -rf $(DEB_TREE) $(DEB_O)/spot-deliver_* $(DEB_O)/spot-deliver-dbgsym_*
	mkdir -p $(DEB_TREE)
	cp -R $(DEB_FILES) $(DEB_TREE)/
	cd $(DEB_TREE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_TREE)
	@ls $(DEB_O)/spot-deliver_$(VERSION)_*.deb

# make bench: an optimized build in bench/work/build, then bench/bench.sh measures it
# against rspamc, cat and curl (hyperfine, /usr/bin/time, callgrind, xargs -P) with a
# private rspamd and the stand-in API over http and https; writes bench/results.md.
# Needs scripts/install-deps.sh bench.
BENCH_O = bench/work/build

bench:
	$(MAKE) O=$(BENCH_O) CFLAGS="-O2 -g" all
	bench/bench.sh $(BENCH_O)/spot-deliver

.PHONY: bench
