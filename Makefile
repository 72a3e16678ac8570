# acmegate: build, test, install. `make deps` installs what building and testing need.
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/acmegate
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= /lib/systemd/system
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libnftnl libmnl inih jansson libcurl openssl libmicrohttpd libunbound
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -MMD -MP -Isrc
CPPFLAGS += -D_GNU_SOURCE
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS))
CFLAGS += $(shell $(PKG_CONFIG) --cflags $(PKGS))
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

B ?= build
ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC := src/log.c src/array.c src/mhd_peer.c src/conf.c src/conf_check.c src/rules.c src/rules_nat.c src/responder/target.c src/responder_proc.c src/ruleset.c src/nft.c src/ct.c src/state.c src/window.c \
	src/sig.c $(wildcard src/probe/*.c) $(wildcard src/check/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
AGENT_SRC := $(wildcard src/agent/*.c)
# the responder runs inside the acmegate binary, and drops root the way the agent does
RESP_SRC := $(filter-out src/responder/target.c,$(wildcard src/responder/*.c)) src/agent/privdrop.c
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(B)/%.o)
RESP_OBJ := $(RESP_SRC:%.c=$(B)/%.o)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

all: $(B)/acmegate $(B)/acmegate-agent

$(B)/acmegate: $(CLI_OBJ) $(RESP_OBJ) $(B)/libacmegate.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(B)/acmegate-agent: $(AGENT_OBJ) $(B)/libacmegate.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(B)/libacmegate.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/libacmegate.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS) -lcmocka

unit: $(UNIT_TESTS)

# The tests: unit tests without root, namespace and end-to-end tests as root.
check: deps all unit
	tests/run

# Unit and namespace tests only (used for the sanitizer build).
check-fast: all unit
	B=$(B) tests/run unit tests/pkg tests/netns

demo: deps all
	tests/demo

deps:
	@tests/lib/deps.sh

bench: deps all
	bench/open-close
	bench/check-parallel
	bench/exposure

install: $(B)/acmegate $(B)/acmegate-agent
	install -D -m 0755 $(B)/acmegate $(DESTDIR)$(SBINDIR)/acmegate
	install -D -m 0755 $(B)/acmegate-agent $(DESTDIR)$(SBINDIR)/acmegate-agent
	install -D -m 0755 hooks/certbot/pre $(DESTDIR)$(LIBEXECDIR)/hooks/certbot/pre
	install -D -m 0755 hooks/certbot/post $(DESTDIR)$(LIBEXECDIR)/hooks/certbot/post
	install -D -m 0755 hooks/dehydrated/hook $(DESTDIR)$(LIBEXECDIR)/hooks/dehydrated/hook
	install -D -m 0755 hooks/uacme/hook $(DESTDIR)$(LIBEXECDIR)/hooks/uacme/hook
	install -D -m 0755 hooks/lego/dns-exec $(DESTDIR)$(LIBEXECDIR)/hooks/lego/dns-exec
	install -D -m 0644 conf/acmegate.conf $(DESTDIR)$(SYSCONFDIR)/acmegate/acmegate.conf.example
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|/usr/sbin/acmegate|$(SBINDIR)/acmegate|' systemd/acmegate-sweep.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/acmegate-sweep.service
	install -D -m 0644 systemd/acmegate-sweep.timer $(DESTDIR)$(SYSTEMDUNITDIR)/acmegate-sweep.timer
	sed 's|/usr/sbin/acmegate-agent|$(SBINDIR)/acmegate-agent|' systemd/acmegate-agent.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/acmegate-agent.service
	install -D -m 0644 conf/agent.conf $(DESTDIR)$(SYSCONFDIR)/acmegate/agent.conf.example
	install -D -m 0644 man/acmegate-agent.8 $(DESTDIR)$(MANDIR)/man8/acmegate-agent.8
	install -D -m 0644 man/acmegate.8 $(DESTDIR)$(MANDIR)/man8/acmegate.8
	install -D -m 0644 man/acmegate.conf.5 $(DESTDIR)$(MANDIR)/man5/acmegate.conf.5
	install -D -m 0755 hooks/certbot/manual-auth $(DESTDIR)$(LIBEXECDIR)/hooks/certbot/manual-auth
	install -D -m 0755 hooks/certbot/manual-cleanup $(DESTDIR)$(LIBEXECDIR)/hooks/certbot/manual-cleanup
	install -D -m 0755 hooks/acme.sh/pre $(DESTDIR)$(LIBEXECDIR)/hooks/acme.sh/pre
	install -D -m 0755 hooks/acme.sh/post $(DESTDIR)$(LIBEXECDIR)/hooks/acme.sh/post
	sed 's|/usr/sbin/acmegate|$(SBINDIR)/acmegate|' conf/sudoers.acmegate \
		>$(DESTDIR)$(SYSCONFDIR)/acmegate/sudoers.acmegate.example

# Puts the certbot hooks where certbot renew runs them.
install-certbot-hooks:
	install -D -m 0755 hooks/certbot/pre $(DESTDIR)$(SYSCONFDIR)/letsencrypt/renewal-hooks/pre/acmegate
	install -D -m 0755 hooks/certbot/post $(DESTDIR)$(SYSCONFDIR)/letsencrypt/renewal-hooks/post/acmegate

clean:
	rm -rf $(B)

.PHONY: all unit check check-fast demo deps bench install install-certbot-hooks clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)
