# skiff — the only build entry.
#   make          build everything into build/
#   make test     deps + build + every test (unit, kernel, lab); needs root
#   make demo     deps + build + the payments canary demo; needs root
#   make bench    deps + build + benchmarks (build/bench/results.md, mtls.md, authz.md, l7route.md,
#                 kube_scale.md, metrics.md, telemetry.md)
#   make vmtest   deps + build + every test inside Debian's 6.1 kernel under QEMU
#   make check    the unit suite and every lab test with skiffd under ASan/UBSan (about an hour;
#                 CHECK_LAB=short: seven of them), then the analyzer and format checks; needs root
#   make check-san  the sanitizer build, its unit suite and CHECK_LAB's lab tests (part of check)
#   make analyze  clang --analyze over user/ (zero findings)
#   make format-check   every .c/.h against .clang-format, changing nothing
#   make deps     install the Debian packages skiff needs (apt-get, only what is missing), and
#                 the manifest validator's npm packages (npm ci in tests/deploy)
#   make image    build/skiff-image.oci.tar: skiffd + skiffctl as an OCI image from scratch
#   make fuzz     build the libFuzzer targets and run each FUZZ_SECONDS (default 60)

BUILD    ?= build
SAN      ?=
# The sanitizer build keeps its own objects and skeletons (set before the flags name them).
ifeq ($(SAN),1)
BUILD    := build/san
endif
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool

# Debian packages: build, run, and test. `make deps` installs the missing ones.
DEPS_PKGS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libdeflate-dev libssl-dev libmnl-dev \
	libcurl4-openssl-dev libjson-c-dev \
	libyaml-dev libnghttp2-dev libpcre2-dev libcmocka-dev pkg-config iproute2 iptables curl iperf3 tcpdump \
	util-linux procps kmod qemu-system-x86 busybox-static cpio xz-utils sockperf nftables \
	haproxy openssl python3 python3-yaml nghttp2-client nghttp2-server wrk nodejs npm libclang-rt-14-dev \
	prometheus clang-format faketime
# kubectl for the lab's API mode (make demo, test_kube_lab): Debian's kubernetes-client, only when
# no kubectl is on PATH, since another kubectl package (a cloud SDK's) may own /usr/bin/kubectl
# and the two conflict.
DEPS_PKGS += $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)

# One version for the binaries (--version) and the image tag; from this file, never from the
# clock or git, so the same tree builds the same bytes.
VERSION  := $(shell cat VERSION)

CFLAGS_COMMON := -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
	-Iinclude -Iuser -I$(BUILD)/skel
CFLAGS   ?=
LDLIBS   := -lbpf -lelf -lz -ldeflate -lyaml -lssl -lcrypto -lmnl -lnghttp2 -lcurl -ljson-c -lpcre2-8 -lpthread -lm
ifeq ($(SAN),1)
CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS  += -fsanitize=address,undefined
endif

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/lib/*.h include/skiff/*.h)

LIB_SRCS  := $(wildcard user/*/*.c)
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
MAIN_SRCS := $(wildcard user/*.c)
BINS      := $(patsubst user/%.c,$(BUILD)/bin/%,$(subst _,-,$(MAIN_SRCS)))

TEST_SRCS := $(wildcard tests/unit/test_*.c tests/kernel/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
# bench tools written in C (kube-mem: where the heap goes on a big cluster)
BENCH_BINS := $(BUILD)/bench/kube-mem

# Deliberately broken BPF (the verifier must refuse it), only for test_bpf_load's check that a
# refused program fails the run visibly; kept out of BUILD/bpf, whose objects must all load.
BROKEN_SRCS := $(wildcard tests/kernel/broken/*.bpf.c)
BROKEN_OBJS := $(patsubst tests/kernel/broken/%.bpf.c,$(BUILD)/tests/kernel/broken/%.bpf.o,$(BROKEN_SRCS))

.PHONY: all tests deps test unit demo bench check check-san analyze format-check clean format vmtest image fuzz \
	fuzz-build soak
all: $(BINS) $(TEST_BINS) $(BENCH_BINS) $(BPF_OBJS)
# the test binaries alone (phony: tests/ is also a directory, which made this a silent no-op)
tests: $(TEST_BINS)

# A package counts as present when installed or provided by an installed one (a nodejs that
# bundles npm provides npm and conflicts with Debian's).
deps:
	@provided=$$(dpkg-query -W -f='$${Status}|$${Provides}\n' 2>/dev/null | \
		sed -n 's/^install ok installed|//p' | tr ',' '\n' | sed 's/ *(.*//; s/^ *//'); \
	missing=""; for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
		printf '%s\n' $$provided | grep -qx "$$p" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "make deps: all packages present"; fi
	@tests/deploy/npm_deps.sh

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD) -Iinclude -Ibpf \
		-c $< -o $@

$(BUILD)/tests/kernel/broken/%.bpf.o: tests/kernel/broken/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD) -c $< -o $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: user/%.c $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libskiff.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# user/skiff_lab.c -> build/bin/skiff-lab
.SECONDEXPANSION:
$(BUILD)/bin/%: user/$$(subst -,_,$$*).c $(BUILD)/libskiff.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -DSKIFF_VERSION='"$(VERSION)"' $(LDFLAGS) $< -o $@ \
		$(BUILD)/libskiff.a $(LDLIBS)

# the binaries that print it are rebuilt when VERSION changes
$(BUILD)/bin/skiffd $(BUILD)/bin/skiffctl: VERSION

$(BUILD)/bench/kube-mem: tests/bench/kube_mem.c $(BUILD)/libskiff.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libskiff.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libskiff.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Itests $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libskiff.a \
		$(LDLIBS) -lcmocka

# test_bpf_load runs itself on the broken object: built with it, for it alone.
$(BUILD)/tests/kernel/test_bpf_load: $(BROKEN_OBJS)

# test_guard and test_guard_sock run the guard's skeleton themselves; named here, the header is also kept after a build.
$(BUILD)/tests/kernel/test_guard $(BUILD)/tests/kernel/test_guard_sock: $(BUILD)/skel/guard.skel.h

# The OCI image archive (deploy/image/build.sh says what goes in and how it stays reproducible).
image: $(BUILD)/bin/skiffd $(BUILD)/bin/skiffctl
	deploy/image/build.sh $(BUILD) $(VERSION) $(BUILD)/skiff-image.oci.tar

# libFuzzer targets (tests/fuzz/): the library again, built by clang with ASan and UBSan and the
# fuzzer's coverage instrumentation into FUZZ_BUILD, apart from the gcc objects.
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/bin/%,$(FUZZ_SRCS))
FUZZ_OBJS    := $(patsubst user/%.c,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRCS))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Two warnings only clang has, for idioms the code uses on purpose: argv loops that take an
# option's value (for-loop-analysis), an offset into a string literal (string-plus-int).
FUZZ_CFLAGS  := $(filter-out -O2,$(CFLAGS_COMMON)) -O1 $(FUZZ_SAN) -Wno-for-loop-analysis \
	-Wno-string-plus-int

# Kept between builds: the gcc and the clang objects both include them, and a skeleton made again
# for one would make the other's objects out of date.
.SECONDARY: $(BPF_SKELS)

$(FUZZ_BUILD)/obj/%.o: user/%.c $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libskiff.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/bin/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(FUZZ_BUILD)/libskiff.a
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -Itests -fsanitize=fuzzer $< -o $@ $(FUZZ_BUILD)/libskiff.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Each target FUZZ_SECONDS from its seeds; any crash fails, its input kept in FUZZ_BUILD/crashes.
fuzz: deps
	$(MAKE) fuzz-build
	tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

test: deps
	$(MAKE) all fuzz-build
	tests/run.sh $(BUILD) all,fuzz

unit: all
	tests/run.sh $(BUILD) unit

# The lab tests make check runs under the sanitizers: all of them (CHECK_LAB=all, about an hour),
# or CHECK_LAB=short, the ones whose traffic goes through skiffd's parsers and relays (YAML, the
# API's JSON stream, HTTP/1.1 and h2, HBONE, the punt path, STRICT), which CI runs beside its
# other suites, or a list of test names.
CHECK_LAB ?= all
CHECK_LAB_SHORT := test_bad_config test_kube_agent test_l7route test_l7_abuse test_hbone \
	test_punt test_strict
CHECK_LAB_LIST := $(if $(filter short,$(CHECK_LAB)),$(CHECK_LAB_SHORT),$(CHECK_LAB))
CHECK_LAB_PAT := $(if $(filter all,$(CHECK_LAB)),*,@($(subst $(eval) ,|,$(strip $(CHECK_LAB_LIST)))))

# Every part runs even when one fails, so one run shows all findings; any failure fails check.
check: deps
	@rc=0; \
	$(MAKE) check-san || rc=1; \
	$(MAKE) SAN=1 analyze || rc=1; \
	$(MAKE) format-check || rc=1; \
	exit $$rc

# The sanitizer build, its unit suite and CHECK_LAB's lab tests.
check-san: deps
	$(MAKE) SAN=1 all
	@rc=0; \
	tests/run.sh build/san unit || rc=1; \
	tests/run.sh build/san lab '$(CHECK_LAB_PAT)' || rc=1; \
	exit $$rc

# clang's static analyzer on every .c of user/ (no root; about 6 minutes of CPU). It needs only
# the BPF skeleton headers the sources include.
analyze: $(BPF_SKELS)
	tests/check/analyze.sh $(BUILD)

format-check:
	tests/check/format_check.sh

demo: deps
	$(MAKE) all
	examples/payments/demo.sh $(BUILD)

# The same suites inside Debian's 6.1 kernel under QEMU (KERNEL=path boots another kernel), then
# the bench in its --tiny mode in the same boot, then the check that a program the verifier
# refuses fails a vmtest with the verifier's message.
vmtest: deps
	$(MAKE) all
	vmtests/run.sh $(BUILD) $(if $(KERNEL),--kernel $(KERNEL))
	vmtests/selftest_broken.sh $(BUILD)

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(BUILD)
	tests/bench/mtls.sh $(BUILD)
	tests/bench/authz.sh $(BUILD)
	tests/bench/l7route.sh $(BUILD)
	tests/bench/kube_scale.py $(BUILD)
	tests/bench/metrics.sh $(BUILD)
	tests/bench/telemetry.sh $(BUILD)

# skiffd under mixed traffic and pod/config churn for SOAK_MINUTES; RSS, fds, threads and map
# entries sampled (SOAK_SAMPLE_SECONDS) and required flat after the warm-up; the table goes to
# $(BUILD)/soak/report.md.
SOAK_MINUTES ?= 30
soak: deps
	$(MAKE) all
	BUILD=$(BUILD) SOAK_MINUTES=$(SOAK_MINUTES) tests/lab/test_soak.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
