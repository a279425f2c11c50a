# libalerting - plain GNU make. `make`, `make check`, `make demo`, `make bench`,
# `make install PREFIX=/usr/local DESTDIR=...`, `make uninstall`.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC      ?= cc
CXX     ?= c++
B       := build

# The version lives in the header only.
VERSION_MAJOR := $(shell sed -n 's/^\#define ALERT_VERSION_MAJOR \([0-9]*\).*/\1/p' include/alerting.h)
VERSION_MINOR := $(shell sed -n 's/^\#define ALERT_VERSION_MINOR \([0-9]*\).*/\1/p' include/alerting.h)
VERSION_PATCH := $(shell sed -n 's/^\#define ALERT_VERSION_PATCH \([0-9]*\).*/\1/p' include/alerting.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

DEPS_PC   := libcurl jansson yaml-0.1 libcrypto sqlite3 hiredis
DEPS_CFLAGS := $(shell pkg-config --cflags $(DEPS_PC) 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(DEPS_PC) 2>/dev/null) -lpthread -lm

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
OPT     ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Ilib $(DEPS_CFLAGS)
LIB_CFLAGS  := $(BASE_CFLAGS) $(OPT) -fPIC -fvisibility=hidden
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

SONAME  := libalerting.so.$(VERSION_MAJOR)
SHLIB   := $(B)/libalerting.so.$(VERSION)
STLIB   := $(B)/libalerting.a
PCFILE  := $(B)/libalerting.pc

LIB_SRCS := $(sort $(wildcard lib/*.c lib/state/*.c))
LIB_HDRS := $(wildcard lib/*.h lib/state/*.h)
LIB_OBJS := $(LIB_SRCS:lib/%.c=$(B)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:lib/%.c=$(B)/san/%.o)

SUP_SRCS := $(sort $(wildcard tests/support/*.c))
SUP_LIB_SRCS := $(filter-out %_main.c,$(SUP_SRCS))
SUP_OBJS := $(SUP_LIB_SRCS:tests/support/%.c=$(B)/support/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
SAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit-san/%)
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(B)/integ/%)
INTEG_SAN_BINS := $(INTEG_SRCS:tests/integration/%.c=$(B)/integ-san/%)

EX_SRCS  := $(sort $(wildcard examples/*.c))
EX_BINS  := $(EX_SRCS:examples/%.c=$(B)/examples/%)
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

MAN3 := $(sort $(wildcard man/man3/*.3))
MAN5 := $(sort $(wildcard man/man5/*.5))
MAN7 := $(sort $(wildcard man/man7/*.7))
MAN1 := $(sort $(wildcard man/man1/*.1))
TOOLS := $(B)/alerting-check

# keep the objects of the sanitizer build between runs
.SECONDARY:

.PHONY: all deps check unit unit-san integration integration-san tsan fuzz examples meta python install-check demo bench install \
        uninstall clean FORCE

all: $(SHLIB) $(B)/libalerting.so $(STLIB) $(PCFILE) $(B)/alert-receiver $(EX_BINS) $(TOOLS)

deps:
	@sh scripts/deps.sh

$(B)/obj/%.o: lib/%.c $(LIB_HDRS) include/alerting.h
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/san/%.o: lib/%.c $(LIB_HDRS) include/alerting.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -c $< -o $@

$(SHLIB): $(LIB_OBJS) lib/libalerting.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libalerting.map \
	    -Wl,--no-undefined -o $@ $(LIB_OBJS) $(DEPS_LIBS) $(LDFLAGS)

$(B)/libalerting.so: $(SHLIB)
	ln -sf libalerting.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

# libdir and includedir relative to ${prefix} where they can be, so that
# pkg-config --define-prefix can relocate a staged tree; rebuilt when PREFIX changes.
$(B)/prefix.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX) $(LIBDIR) $(INCDIR)' | cmp -s - $@ || echo '$(PREFIX) $(LIBDIR) $(INCDIR)' > $@

$(PCFILE): pkgconfig/libalerting.pc.in include/alerting.h $(B)/prefix.stamp
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

# the tools link the static library: an installed program needs no library path
$(B)/alerting-check: tools/alerting-check.c $(STLIB) include/alerting.h
	$(CC) $(BASE_CFLAGS) $(OPT) $< $(STLIB) -o $@ $(DEPS_LIBS) $(LDFLAGS)

# --- test support ---------------------------------------------------------------
$(B)/support/%.o: tests/support/%.c $(wildcard tests/support/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g -Itests/support -c $< -o $@

$(B)/alert-receiver: tests/support/receiver_main.c $(SUP_OBJS)
	$(CC) $(BASE_CFLAGS) -O1 -g -Itests/support $^ -o $@ $(DEPS_LIBS)

# --- unit tests: the library objects linked in, private headers visible ----------
$(B)/unit/%: tests/unit/%.c $(LIB_OBJS) $(SUP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g -Itests/support $< $(LIB_OBJS) $(SUP_OBJS) -o $@ \
	    $(CMOCKA_LIBS) $(DEPS_LIBS)

$(B)/unit-san/%: tests/unit/%.c $(SAN_OBJS) $(SUP_LIB_SRCS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -Itests/support $< $(SUP_LIB_SRCS) $(SAN_OBJS) \
	    -o $@ $(CMOCKA_LIBS) $(DEPS_LIBS)

# --- integration tests: black box, through the shared library --------------------
$(B)/integ/%: tests/integration/%.c $(B)/libalerting.so $(SUP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g -Itests/support $< $(SUP_OBJS) -o $@ \
	    -L$(B) -lalerting -Wl,-rpath,$(abspath $(B)) $(CMOCKA_LIBS) $(DEPS_LIBS)

# the same black-box tests on the sanitizer build of the library (leaks, UB, overflows)
$(B)/integ-san/%: tests/integration/%.c $(SAN_OBJS) $(SUP_LIB_SRCS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -Itests/support $< $(SUP_LIB_SRCS) $(SAN_OBJS) -o $@ \
	    $(CMOCKA_LIBS) $(DEPS_LIBS)

$(B)/examples/%: examples/%.c $(B)/libalerting.so $(SUP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(OPT) -Itests/support $< $(SUP_OBJS) -o $@ -L$(B) -lalerting \
	    -Wl,-rpath,$(abspath $(B)) $(DEPS_LIBS)

$(B)/bench/%: bench/%.c $(LIB_OBJS) $(SUP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(OPT) -Itests/support $< $(LIB_OBJS) $(SUP_OBJS) -o $@ $(DEPS_LIBS)

# --- check ----------------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit unit-san integration integration-san tsan fuzz examples \
	    meta python install-check
	@echo "make check: all passed"

unit: $(UNIT_BINS)
	@sh scripts/run-tests.sh unit $(UNIT_BINS)

unit-san: $(SAN_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh scripts/run-tests.sh unit-san $(SAN_BINS)

integration: $(INTEG_BINS) $(B)/alert-receiver $(TOOLS)
	@sh scripts/run-tests.sh integration $(INTEG_BINS)

# every hook from two threads against the worker thread, under ThreadSanitizer
$(B)/tsan/threads: tests/stress/threads.c $(LIB_SRCS) $(SUP_LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g -fsanitize=thread -Itests/support $< $(LIB_SRCS) $(SUP_LIB_SRCS) \
	    -o $@ $(DEPS_LIBS)

# libFuzzer (clang): config YAML and the text pipeline; `make fuzz FUZZ_SECONDS=600` for
# a long run, `make check` runs each for a few seconds from the seeds in tests/data
FUZZ_SECONDS ?= 5
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Ilib $(DEPS_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined $< $(LIB_SRCS) -o $@ $(DEPS_LIBS)

fuzz: $(FUZZ_BINS)
	@sh scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# fleet deliveries with worker and coordinator threads (adoption), under ThreadSanitizer
$(B)/tsan/fleet_delivery: tests/integration/test_fleet_delivery.c $(LIB_SRCS) $(SUP_LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g -fsanitize=thread -DFLEET_TSAN_ONLY -Itests/support $< $(LIB_SRCS) \
	    $(SUP_LIB_SRCS) -o $@ $(CMOCKA_LIBS) $(DEPS_LIBS)

tsan: $(B)/tsan/threads $(B)/tsan/fleet_delivery
	@TSAN_OPTIONS=halt_on_error=1:exitcode=66 sh scripts/run-tests.sh tsan $(B)/tsan/threads \
	    $(B)/tsan/fleet_delivery

integration-san: $(INTEG_SAN_BINS) $(TOOLS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh scripts/run-tests.sh integration-san $(INTEG_SAN_BINS)

meta: $(SHLIB) $(STLIB)
	@sh scripts/check-layers.sh
	@sh scripts/check-meta.sh $(SHLIB) $(STLIB)

examples: $(EX_BINS) $(B)/alert-receiver
	@sh scripts/check-examples.sh $(B)

python: $(B)/libalerting.so $(B)/alert-receiver
	@sh scripts/check-python.sh $(B)/libalerting.so.0

install-check: all
	@MAKE="$(MAKE)" sh scripts/check-install.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BINS)
	@for b in $(BENCH_BINS); do $$b || exit 1; done
	@sh bench/instructions.sh $(B)/bench/bench_hooks

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 644 include/alerting.h $(DESTDIR)$(INCDIR)/alerting.h
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/libalerting.so.$(VERSION)
	ln -sf libalerting.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libalerting.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/libalerting.a
	install -m 644 $(PCFILE) $(DESTDIR)$(PCDIR)/libalerting.pc
	$(if $(MAN3),install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	@sh scripts/man-links.sh $(MAN3) | while read name page; do \
	    echo ".so man3/$$page" > $(DESTDIR)$(MANDIR)/man3/$$name.3 || exit 1; done
	@if [ -z "$(DESTDIR)" ] && ! /sbin/ldconfig -p 2>/dev/null | grep -q '$(LIBDIR)/$(SONAME)$$'; then \
	    echo "libalerting: the dynamic loader does not know $(LIBDIR)/$(SONAME) yet:"; \
	    echo "libalerting:   run 'ldconfig' as root (if $(LIBDIR) is not in /etc/ld.so.conf.d,"; \
	    echo "libalerting:   add it there first), or set LD_LIBRARY_PATH=$(LIBDIR)"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/alerting.h $(DESTDIR)$(LIBDIR)/libalerting.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libalerting.so \
	    $(DESTDIR)$(LIBDIR)/libalerting.a $(DESTDIR)$(PCDIR)/libalerting.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(addsuffix .3,$(shell sh scripts/man-links.sh $(MAN3) | cut -d' ' -f1))) \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS)))

clean:
	rm -rf $(B)
