# Vigil — one non-recursive Makefile. `make` builds everything into build/;
# `make SAN=1` builds the ASan+UBSan variant into build-san/.
#   make up | down | test | bench | fuzz | format | lint | vmlinux

SAN ?= 0
FUZZ ?= 0
ifeq ($(FUZZ),1)
BUILD ?= build-fuzz
else ifeq ($(SAN),1)
BUILD ?= build-san
else
BUILD ?= build
endif

# `make` alone builds everything (the first rule below would otherwise be libvg.a alone).
.DEFAULT_GOAL := all
CC := clang
PKG_CONFIG ?= pkg-config
SVC_PKGS := libmicrohttpd jansson libpq hiredis librabbitmq libsodium libcurl

CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-g -pthread -MMD -MP -Iservices/common -Iagent $(shell $(PKG_CONFIG) --cflags $(SVC_PKGS))
LDLIBS := $(shell $(PKG_CONFIG) --libs $(SVC_PKGS)) -lm -pthread
ifeq ($(FUZZ),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS += -O1 $(SANFLAGS) -fsanitize=fuzzer-no-link
LDFLAGS += $(SANFLAGS)
else ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS += -O1 $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
else
CFLAGS += -O2
endif

OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin

# ---- services/common: libvg.a ----
VG_SRCS := $(wildcard services/common/*.c)
VG_OBJS := $(VG_SRCS:%.c=$(OBJ)/%.o)
LIBVG := $(BUILD)/lib/libvg.a

$(LIBVG): $(VG_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# ---- agent/proto: libagproto.a, the pure protocol parsers (no I/O, no libraries) ----
AGENT_PROTO_SRCS := $(wildcard agent/proto/*.c)
AGENT_PROTO_OBJS := $(AGENT_PROTO_SRCS:%.c=$(OBJ)/%.o)
LIBAGPROTO := $(BUILD)/lib/libagproto.a

$(LIBAGPROTO): $(AGENT_PROTO_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# ---- ebpf: CO-RE objects and their skeletons (ebpf/x.bpf.c -> x.bpf.o -> x.skel.h) ----
# ebpf/vmlinux.h is committed; `make vmlinux` regenerates it from the running kernel's BTF.
BPFTOOL ?= bpftool
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -Iebpf -I$(BUILD)/ebpf
BPF_SRCS := $(wildcard ebpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:ebpf/%.bpf.c=$(BUILD)/ebpf/%.skel.h)
BPF_LDLIBS := $(shell $(PKG_CONFIG) --libs libbpf) -lelf -lz
CFLAGS += -Iebpf -I$(BUILD)/ebpf

$(BUILD)/ebpf/%.bpf.o: ebpf/%.bpf.c ebpf/vigil_events.h $(wildcard ebpf/*.bpf.h) ebpf/vmlinux.h
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -c $< -o $@
	llvm-strip -g $@
$(BUILD)/ebpf/%.skel.h: $(BUILD)/ebpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@
# The loader embeds the skeletons; whatever links agent/bpf.o needs $(BPF_LDLIBS).
$(OBJ)/agent/bpf.o: $(BPF_SKELS)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > ebpf/vmlinux.h

# vigil-trace: debug tool, prints the loader's events as text lines (tests use it too).
$(BIN)/vigil-trace: $(OBJ)/tools/vigil-trace/main.o $(OBJ)/agent/bpf.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(BPF_LDLIBS)
ALL_BINS += $(BIN)/vigil-trace

# e2e test of the BPF data plane (root): tests/e2e/test_bpf_loader.c.
$(BUILD)/tests/e2e/test_bpf_loader: $(OBJ)/tests/e2e/test_bpf_loader.o \
		$(OBJ)/tests/e2e/bpf_scenario.o $(OBJ)/agent/bpf.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(BPF_LDLIBS)
ALL_BINS += $(BUILD)/tests/e2e/test_bpf_loader

# ---- vigil-agent: agent/*.c with libmicrohttpd and libyaml. It links neither libvg nor the
# shop's libraries: the agent watches the shop and shares none of its failure modes.
AGENT_SRCS := $(wildcard agent/*.c)
AGENT_OBJS := $(AGENT_SRCS:%.c=$(OBJ)/%.o)
AGENT_LDLIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd yaml-0.1) $(BPF_LDLIBS) -lm -pthread
$(BIN)/vigil-agent: $(AGENT_OBJS) $(LIBAGPROTO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(AGENT_OBJS) $(LIBAGPROTO) $(AGENT_LDLIBS)
ALL_BINS += $(BIN)/vigil-agent

# ---- executables: one directory each; name:dir pairs ----
PROGRAMS := vg-gateway:services/gateway vg-user:services/user vg-product:services/product \
	vg-order:services/order vg-payment:services/payment vg-notify:services/notification \
	vg-migrate:services/migrate vg-loadgen:tools/loadgen

define program_rule
$(1)_SRCS := $$(wildcard $(2)/*.c)
$(1)_OBJS := $$($(1)_SRCS:%.c=$(OBJ)/%.o)
$(BIN)/$(1): $$($(1)_OBJS) $(LIBVG)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) -o $$@ $$($(1)_OBJS) $(LIBVG) $(LDLIBS)
ALL_BINS += $$(if $$($(1)_SRCS),$(BIN)/$(1))
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

# ---- unit tests (cmocka): tests/unit/test_*.c, each linked with libvg ----
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Objects first, archives after: a test's extra objects (one prerequisite line each, below)
# may call into libvg or libagproto.
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(LIBVG) $(LIBAGPROTO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBVG) $(LIBAGPROTO) $(LDLIBS) -lcmocka
# A unit test of a module outside libvg links that module's object too.
$(BUILD)/tests/test_loadgen_route: $(OBJ)/tools/loadgen/route.o
$(BUILD)/tests/test_order_validate: $(OBJ)/services/order/validate.o
$(BUILD)/tests/test_payment_card: $(OBJ)/services/payment/card.o
$(BUILD)/tests/test_gw_ratelimit: $(OBJ)/services/gateway/ratelimit.o
$(BUILD)/tests/test_product_localcache: $(OBJ)/services/product/localcache.o

# Agent platform modules under test (objects, not an archive: see AGENT_SRCS).
AG_METRICS_OBJS := $(addprefix $(OBJ)/agent/,buf.o registry.o registry_stale.o expo.o families.o)
AG_CONFIG_OBJS := $(addprefix $(OBJ)/agent/,config.o config_yaml.o config_args.o)
AG_DISCOVERY_OBJS := $(addprefix $(OBJ)/agent/,buf.o procnet.o discovery.o discovery_proc.o \
	discovery_seed.o)
$(BUILD)/tests/test_registry $(BUILD)/tests/test_expo: $(AG_METRICS_OBJS)
$(BUILD)/tests/test_config: $(AG_CONFIG_OBJS)
$(BUILD)/tests/test_config: LDLIBS += -lyaml
$(BUILD)/tests/test_discovery: $(AG_DISCOVERY_OBJS)
AG_CONNTRACK_OBJS := $(addprefix $(OBJ)/agent/,conntrack.o ct_pair.o)
$(BUILD)/tests/test_conntrack: $(AG_CONNTRACK_OBJS)

# ---- benchmark helpers: a bare libmicrohttpd server (scripts/bench.sh) ----
$(BIN)/bare-mhd: $(OBJ)/tests/bench/bare_mhd.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# ... and the agent's (scripts/bench-agent.sh): a getppid() loop timing the syscall path, and
# the protocol parsers' throughput over libagproto.a.
$(BIN)/getppid_loop: $(OBJ)/tests/bench/getppid_loop.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^
$(BIN)/parser_bench: $(OBJ)/tests/bench/parser_bench.o $(LIBAGPROTO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^
# ... and an empty program on the agent's two raw tracepoints: the floor under its cost.
$(BIN)/empty_hooks: $(OBJ)/tests/bench/empty_hooks.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(BPF_LDLIBS)
# Built with everything, so that the build checks them too.
ALL_BINS += $(BIN)/bare-mhd $(BIN)/getppid_loop $(BIN)/parser_bench $(BIN)/empty_hooks

# ---- fuzz targets (libFuzzer, built with FUZZ=1): tests/fuzz/fuzz_*.c ----
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: $(OBJ)/tests/fuzz/%.o $(LIBVG) $(LIBAGPROTO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBVG) $(LIBAGPROTO) $(LDLIBS)
$(BUILD)/fuzz/fuzz_procnet: $(OBJ)/agent/procnet.o
$(BUILD)/fuzz/fuzz_conntrack: $(AG_CONNTRACK_OBJS)
fuzz-build: $(FUZZ_BINS)

# Keep the objects of unit tests and fuzz targets between builds.
.SECONDARY:

.PHONY: all up down fuzz-build test bench fuzz format lint clean unit vmlinux
all: $(ALL_BINS) $(UNIT_BINS)

up:
	@bash scripts/stack.sh up
down:
	@bash scripts/stack.sh down
test:
	@bash scripts/test.sh
bench:
	@bash scripts/bench.sh
fuzz:
	@bash scripts/fuzz.sh long
unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' | grep -v '^ebpf/vmlinux.h$$')
format:
	clang-format -i $(FORMAT_SRCS)
lint:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
