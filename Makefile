# ttlc - TikTok LIVE event toolchain. Plain GNU make; see README.md.
#
#   make            build bin/ (optimised)
#   make test       install what is missing, build with ASan+UBSan, run every suite
#   make bench      benchmarks against the baselines named in the issues
#   make run        the local default pipeline (mock stream over Redis)
#   make stop       stop what make run started
#   make lint       banned functions
#   make valgrind   memcheck on the commands, leaks included
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= release

CC ?= cc
PKGS = yajl libcrypto hiredis libpq libprotobuf-c zlib libwebsockets libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS_release = -O2 -g -D_FORTIFY_SOURCE=2
CFLAGS_asan = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_asan = -fsanitize=address,undefined

O = build/$(BUILD)
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS_$(BUILD)) -Icommon -I$(O)/gen $(PKG_CFLAGS) \
    -DTTLC_DATADIR='"$(PREFIX)/share/ttlc"' $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_$(BUILD)) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm

COMMANDS = tt-normalize tt-ingest tt-xadd tt-xread tt-xack tt-store tt-export tt-prune
LIB_SRC = $(wildcard common/*.c)
# protoc-c writes the webcast message code into $(O)/gen; webcast_descs.c
# lists every message descriptor it declares (protobuf-c keeps no such list),
# which is where tt_webcast finds the event methods.
GEN_OBJ = $(O)/gen/tt_schemas.o $(O)/gen/webcast.pb-c.o $(O)/gen/webcast_descs.o
GEN_HDR = $(O)/gen/webcast.pb-c.h
LIB_OBJ = $(LIB_SRC:common/%.c=$(O)/common/%.o) $(GEN_OBJ)
SCHEMAS = schema/raw.v1.schema.json schema/unified-event.v1.schema.json schema/dlq.v1.schema.json
BINS = $(COMMANDS:%=$(O)/bin/%)
UNIT = $(O)/bin/tt-unit

.PHONY: all bins test unit bench run stop lint install clean deps fuzz valgrind
.DELETE_ON_ERROR:
.PRECIOUS: %/gen/webcast.pb-c.c %/gen/webcast.pb-c.h %/gen/webcast_descs.c %/gen/pbtest.pb-c.c %/gen/pbtest.pb-c.h

all:
	@$(MAKE) --no-print-directory BUILD=release bins
	@mkdir -p bin && for c in $(COMMANDS); do ln -sf ../build/release/bin/$$c bin/$$c; done

bins: $(BINS) $(UNIT) $(O)/bin/gen-recording

$(O)/gen/tt_schemas.c: $(SCHEMAS) scripts/embed-schemas
	@mkdir -p $(@D)
	scripts/embed-schemas $@ tt_schema_raw_v1=schema/raw.v1.schema.json \
	    tt_schema_unified_event_v1=schema/unified-event.v1.schema.json \
	    tt_schema_dlq_v1=schema/dlq.v1.schema.json

$(O)/gen/tt_schemas.o: $(O)/gen/tt_schemas.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The generated code passes WARN as it is (protobuf-c 1.4); if a newer
# protoc-c trips a warning, relax it here, for the generated files only.
%/gen/webcast.pb-c.c %/gen/webcast.pb-c.h: proto/webcast.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(@D) -Iproto proto/webcast.proto

%/gen/webcast_descs.c: %/gen/webcast.pb-c.h
	{ echo '/* Generated from webcast.pb-c.h: every message descriptor. */'; \
	  echo '#include "webcast.pb-c.h"'; \
	  echo 'extern const ProtobufCMessageDescriptor *const tt_webcast_descs[];'; \
	  echo 'const ProtobufCMessageDescriptor *const tt_webcast_descs[] = {'; \
	  sed -n 's/^extern const ProtobufCMessageDescriptor \([a-z0-9_]*\);$$/\t\&\1,/p' $<; \
	  echo '\tNULL,'; echo '};'; } >$@

$(O)/gen/%.o: $(O)/gen/%.c $(GEN_HDR)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/common/%.o: common/%.c $(wildcard common/*.h) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/cmd/%.o: cmd/%.c $(wildcard common/*.h) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libttlc.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(O)/bin/%: $(O)/cmd/%.o $(O)/libttlc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/libttlc.a $(LIBS)

$(O)/test/%.o: test/unit/%.c $(wildcard common/*.h) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/test/tt-unit.o: $(O)/gen/pbtest.pb-c.h

# pbtest.proto: every field kind of the JSON encoder, for the unit tests.
%/gen/pbtest.pb-c.c %/gen/pbtest.pb-c.h: test/unit/pbtest.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(@D) -Itest/unit test/unit/pbtest.proto

$(UNIT): $(O)/test/tt-unit.o $(O)/gen/pbtest.pb-c.o $(O)/libttlc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/gen/pbtest.pb-c.o $(O)/libttlc.a $(LIBS)

# Test tools: gen-recording writes TTLCWS1 recordings (bench and suites).
$(O)/test/gen-recording.o: test/bench/gen-recording.c $(wildcard common/*.h) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/bin/gen-recording: $(O)/test/gen-recording.o $(O)/libttlc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/libttlc.a $(LIBS)

deps:
	scripts/deps

# libFuzzer targets (clang). make test runs each briefly; make fuzz longer.
FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -Ibuild/fuzz/gen $(PKG_CFLAGS)
FUZZ_TARGETS = build/fuzz/fuzz-json build/fuzz/fuzz-normalize build/fuzz/fuzz-webcast
# pbtest: every field type, for fuzz-webcast's wire walker check.
FUZZ_GEN = build/fuzz/gen/tt_schemas.c build/fuzz/gen/webcast.pb-c.c build/fuzz/gen/webcast_descs.c \
    build/fuzz/gen/pbtest.pb-c.c
FUZZ_TIME ?= 300

build/fuzz/gen/tt_schemas.c: $(SCHEMAS) scripts/embed-schemas
	@mkdir -p $(@D)
	scripts/embed-schemas $@ tt_schema_raw_v1=schema/raw.v1.schema.json \
	    tt_schema_unified_event_v1=schema/unified-event.v1.schema.json \
	    tt_schema_dlq_v1=schema/dlq.v1.schema.json

build/fuzz/fuzz-%: test/fuzz/fuzz-%.c $(LIB_SRC) $(wildcard common/*.h) $(FUZZ_GEN) build/fuzz/gen/webcast.pb-c.h \
    build/fuzz/gen/pbtest.pb-c.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(FUZZ_GEN) $(PKG_LIBS) -lm

fuzz: deps $(FUZZ_TARGETS)
	scripts/fuzz $(FUZZ_TIME)

# Every suite, under AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps lint
	@$(MAKE) --no-print-directory BUILD=asan bins
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)
	scripts/test

bench: deps all
	scripts/bench
	scripts/bench-redis
	scripts/bench-pg

run: deps all
	scripts/run

stop:
	scripts/run stop

lint:
	scripts/lint

# memcheck on the release build (the test suite itself runs under ASan).
valgrind: all
	scripts/valgrind

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/ttlc/schema $(DESTDIR)$(PREFIX)/share/ttlc/fixtures
	install -m 755 $(COMMANDS:%=build/release/bin/%) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 644 $(SCHEMAS) $(DESTDIR)$(PREFIX)/share/ttlc/schema/
	install -d $(DESTDIR)$(PREFIX)/share/ttlc/schema/sql
	install -m 644 schema/sql/*.sql $(DESTDIR)$(PREFIX)/share/ttlc/schema/sql/
	install -m 644 test/fixtures/raw-frames.ndjson $(DESTDIR)$(PREFIX)/share/ttlc/fixtures/

clean:
	rm -rf build bin
