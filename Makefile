# skiff — the only build entry.
#   make          build everything into build/
#   make test     deps + build + every test (unit, kernel, lab); needs root
#   make demo     deps + build + the payments canary demo; needs root
#   make bench    deps + build + benchmarks (build/bench/results.md)
#   make vmtest   deps + build + every test inside Debian's 6.1 kernel under QEMU
#   make check    unit tests under ASan/UBSan
#   make deps     install the Debian packages skiff needs (apt-get, only what is missing)

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool

# Debian packages: build, run, and test. `make deps` installs the missing ones.
DEPS_PKGS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev libmnl-dev \
	libcurl4-openssl-dev libjson-c-dev \
	libyaml-dev libnghttp2-dev libcmocka-dev pkg-config iproute2 iptables curl iperf3 tcpdump \
	util-linux procps kmod qemu-system-x86 busybox-static cpio xz-utils sockperf nftables \
	haproxy openssl python3 nghttp2-client nghttp2-server wrk prometheus

CFLAGS_COMMON := -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
	-Iinclude -Iuser -I$(BUILD)/skel
CFLAGS   ?=
LDLIBS   := -lbpf -lelf -lz -lyaml -lssl -lcrypto -lmnl -lnghttp2 -lcurl -ljson-c -lpthread -lm
SAN      ?=
ifeq ($(SAN),1)
CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build/san
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

# Deliberately broken BPF (the verifier must refuse it), only for test_bpf_load's check that a
# refused program fails the run visibly; kept out of BUILD/bpf, whose objects must all load.
BROKEN_SRCS := $(wildcard tests/kernel/broken/*.bpf.c)
BROKEN_OBJS := $(patsubst tests/kernel/broken/%.bpf.c,$(BUILD)/tests/kernel/broken/%.bpf.o,$(BROKEN_SRCS))

.PHONY: all tests deps test unit demo bench check clean format vmtest
all: $(BINS) $(TEST_BINS) $(BPF_OBJS)
# the test binaries alone (phony: tests/ is also a directory, which made this a silent no-op)
tests: $(TEST_BINS)

deps:
	@missing=""; for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "make deps: all packages present"; fi

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
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libskiff.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libskiff.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Itests $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libskiff.a \
		$(LDLIBS) -lcmocka

# test_bpf_load runs itself on the broken object: built with it, for it alone.
$(BUILD)/tests/kernel/test_bpf_load: $(BROKEN_OBJS)

# test_guard runs the guard's skeleton itself; named here, the header is also kept after a build.
$(BUILD)/tests/kernel/test_guard: $(BUILD)/skel/guard.skel.h

test: deps
	$(MAKE) all
	tests/run.sh $(BUILD)

unit: all
	tests/run.sh $(BUILD) unit

check:
	$(MAKE) SAN=1 all
	tests/run.sh build/san unit

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
	tests/bench/metrics.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
