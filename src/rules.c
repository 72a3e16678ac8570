/* rules.c: builds gate rules, our table, chain and set as libnftnl objects; pure, no privilege.
 * Each expression group is commented with the nft syntax it implements; golden tests compare
 * the bytecode with what `nft --debug=netlink` produces for that syntax. */
#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include "rules.h"
#include "rules_expr.h"

#define PATH_PREFIX "GET /.well-known/acme-challenge/"   /* 32 bytes: two 16-byte loads */
#define PATH_SUFFIX " HTTP/1."                           /* 8 bytes after the token */
#define FIRST_TIMEOUT_MS 10000
#define FIRST_SET_SIZE 262144

static void add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static void meta_load(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	add(r, e);
}

static void cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	add(r, e);
}

static void payload_load_to(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			    uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
	add(r, e);
}

static void payload_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	payload_load_to(r, base, off, len, NFT_REG_1);
}

static void bitwise_and(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	add(r, e);
}

/* meta time < deadline: the kernel's clock is ns since the epoch in host order; it must be
 * turned big-endian before an ordered compare, which works on bytes. */
static void match_before(struct nftnl_rule *r, time_t deadline)
{
	struct nftnl_expr *e;
	uint64_t be = htobe64((uint64_t)deadline * 1000000000ull);

	meta_load(r, NFT_META_TIME_NS);
	e = nftnl_expr_alloc("byteorder");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 8);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 8);
	add(r, e);
	cmp(r, NFT_CMP_LT, &be, sizeof(be));
}

/* meta l4proto P th dport N */
static void match_port(struct nftnl_rule *r, const struct opening *o)
{
	uint16_t port = htons(o->port);

	meta_load(r, NFT_META_L4PROTO);
	cmp(r, NFT_CMP_EQ, &o->l4proto, sizeof(o->l4proto));
	payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	cmp(r, NFT_CMP_EQ, &port, sizeof(port));
}

/* meta l4proto P ct original proto-dst N: the port before DNAT rewrote it */
static void match_original_port(struct nftnl_rule *r, const struct opening *o)
{
	struct nftnl_expr *e;
	uint16_t port = htons(o->port);

	meta_load(r, NFT_META_L4PROTO);
	cmp(r, NFT_CMP_EQ, &o->l4proto, sizeof(o->l4proto));
	e = nftnl_expr_alloc("ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_PROTO_DST);
	nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	add(r, e);
	cmp(r, NFT_CMP_EQ, &port, sizeof(port));
}

/* fib daddr type local: for this host (or published by DNAT), not passing through it */
static void match_for_this_host(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");
	uint32_t local = RTN_LOCAL;

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	add(r, e);
	cmp(r, NFT_CMP_EQ, &local, sizeof(local));
}

/* ct status dnat: only a port the admin published by DNAT, not every routed host's */
static void match_dnat(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	uint32_t dnat = IPS_DST_NAT, zero = 0;

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	add(r, e);
	bitwise_and(r, &dnat, sizeof(dnat));
	cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* meta iiftype != loopback: the host's own requests are not the world's */
static void match_not_loopback(struct nftnl_rule *r)
{
	uint16_t lo = ARPHRD_LOOPBACK;

	meta_load(r, NFT_META_IIFTYPE);
	cmp(r, NFT_CMP_NEQ, &lo, sizeof(lo));
}

/* @ih,0,8 0x00-0xff: matches only a segment that carries data */
static void match_has_payload(struct nftnl_rule *r)
{
	uint8_t lo = 0x00, hi = 0xff;

	payload_load(r, NFT_PAYLOAD_INNER_HEADER, 0, 1);
	cmp(r, NFT_CMP_GTE, &lo, 1);
	cmp(r, NFT_CMP_LTE, &hi, 1);
}

static void counter(struct nftnl_rule *r)
{
	add(r, nftnl_expr_alloc("counter"));
}

static void verdict(struct nftnl_rule *r, int v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	add(r, e);
}

/* reject with tcp reset */
static void reject_tcp_reset(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
	add(r, e);
}

static void set_comment(struct nftnl_rule *r, const char *comment)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!u)
		return;
	nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment);
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
}

static struct nftnl_rule *rule_new(int family, const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

/* ct state != invalid */
static void match_not_invalid(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	uint32_t invalid = NF_CT_STATE_INVALID_BIT;

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	add(r, e);
	cmp(r, NFT_CMP_NEQ, &invalid, sizeof(invalid));
}

struct nftnl_rule *rule_opener(int family, const char *table, const char *chain,
			       const struct opening *o, time_t deadline, const char *comment,
			       unsigned flags)
{
	struct nftnl_rule *r = rule_new(family, table, chain);

	if (!r)
		return NULL;
	match_before(r, deadline);
	if (flags & OPEN_LOCAL)
		match_for_this_host(r);
	if (flags & OPEN_ORIGINAL_PORT)
		match_original_port(r, o);
	else
		match_port(r, o);
	if (flags & OPEN_DNAT)
		match_dnat(r);
	if (flags & OPEN_SKIP_INVALID)
		match_not_invalid(r);
	counter(r);
	verdict(r, NF_ACCEPT);
	set_comment(r, comment);
	return r;
}

/* meta iiftype != loopback fib daddr type local meta time < T meta l4proto tcp th dport 80 */
static void match_world_http(struct nftnl_rule *r, time_t deadline)
{
	static const struct opening http = { .l4proto = IPPROTO_TCP, .port = 80 };

	match_not_loopback(r);
	match_for_this_host(r);
	match_before(r, deadline);
	match_port(r, &http);
}

/* Where the address, port and sequence number of a (client address . port . seq) key live,
 * per family; register numbers as nft lays out a concatenation. */
struct seq_key {
	uint8_t nfproto;
	uint32_t saddr_off, daddr_off, alen, port_reg, seq_reg;
	const char *set;
};

static const struct seq_key seq_keys[] = {
	{ NFPROTO_IPV4, 12, 16, 4, NFT_REG32_01, NFT_REG32_02, GATE_FIRST4 },
	{ NFPROTO_IPV6, 8, 24, 16, NFT_REG_2, NFT_REG32_05, GATE_FIRST6 },
};

static const struct seq_key *seq_key(int nfproto)
{
	return nfproto == NFPROTO_IPV6 ? &seq_keys[1] : &seq_keys[0];
}

/* tcp flags & urg == 0 meta nfproto ipv4 ip saddr . tcp sport . tcp sequence @first4: this
 * data segment starts at
 * the first byte of the stream, as the server's SYN-ACK acknowledged it. A segment that starts
 * earlier would have its head trimmed by TCP and the rest delivered unchecked. */
static void match_first_segment(struct nftnl_rule *r, const struct seq_key *k)
{
	struct nftnl_expr *e;
	uint8_t urg = 0x20, zero = 0;

	/* tcp flags & urg == 0: an urgent pointer would cut a byte out of the checked bytes */
	payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
	bitwise_and(r, &urg, 1);
	cmp(r, NFT_CMP_EQ, &zero, 1);
	meta_load(r, NFT_META_NFPROTO);
	cmp(r, NFT_CMP_EQ, &k->nfproto, 1);
	payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, k->saddr_off, k->alen);
	payload_load_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, k->port_reg);
	payload_load_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 4, 4, k->seq_reg);
	e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, k->set);
	add(r, e);
}

static void lookup(struct nftnl_rule *r, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	add(r, e);
}

/* @ih,0,128 "GET /.well-kno…" @ih,128,128 "…/acme-challenge/", then the token: each character
 * @ih,256,8 @b64url …, or when exact the whole of it, @ih,256,344 @tokens; @ih,…,64 " HTTP/1." */
static void match_challenge_line(struct nftnl_rule *r, unsigned token_len, bool exact)
{
	uint32_t off = sizeof(PATH_PREFIX) - 1;

	payload_load(r, NFT_PAYLOAD_INNER_HEADER, 0, 16);
	cmp(r, NFT_CMP_EQ, PATH_PREFIX, 16);
	payload_load(r, NFT_PAYLOAD_INNER_HEADER, 16, 16);
	cmp(r, NFT_CMP_EQ, PATH_PREFIX + 16, 16);
	if (exact) {
		payload_load(r, NFT_PAYLOAD_INNER_HEADER, off, token_len);
		lookup(r, GATE_TOKEN_SET);
		off += token_len;
	}
	for (unsigned i = 0; !exact && i < token_len; i++, off++) {
		payload_load(r, NFT_PAYLOAD_INNER_HEADER, off, 1);
		lookup(r, GATE_SET);
	}
	payload_load(r, NFT_PAYLOAD_INNER_HEADER, off, 8);
	cmp(r, NFT_CMP_EQ, PATH_SUFFIX, 8);
}

struct nftnl_rule *rule_path_accept(int nfproto, time_t deadline, unsigned token_len,
				    bool exact, const char *comment)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, GATE_TABLE, GATE_CHAIN);

	if (!r)
		return NULL;
	match_world_http(r, deadline);
	match_first_segment(r, seq_key(nfproto));
	match_challenge_line(r, token_len, exact);
	counter(r);
	verdict(r, NF_ACCEPT);
	set_comment(r, comment);
	return r;
}

struct nftnl_rule *rule_path_reset(time_t deadline, const char *comment)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, GATE_TABLE, GATE_CHAIN);

	if (!r)
		return NULL;
	match_world_http(r, deadline);
	match_has_payload(r);
	counter(r);
	reject_tcp_reset(r);
	set_comment(r, comment);
	return r;
}

/* meta nfproto ipv4 ip saddr P: nft loads only the prefix's bytes when it is byte-aligned,
 * else the whole address through a mask; the same here, so the bytecode matches nft's. */
static void match_source(struct nftnl_rule *r, const struct cidr *src)
{
	uint8_t nfproto = src->family;
	uint32_t off = src->family == NFPROTO_IPV4 ? 12 : 8;
	uint32_t alen = src->family == NFPROTO_IPV4 ? 4 : 16;
	uint8_t mask[16] = { 0 };

	meta_load(r, NFT_META_NFPROTO);
	cmp(r, NFT_CMP_EQ, &nfproto, 1);
	if (src->plen % 8 == 0) {
		payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, src->plen / 8u);
		cmp(r, NFT_CMP_EQ, src->addr, src->plen / 8u);
		return;
	}
	payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen);
	for (unsigned bit = 0; bit < src->plen; bit++)
		mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	bitwise_and(r, mask, alen);
	cmp(r, NFT_CMP_EQ, src->addr, alen);
}

struct nftnl_rule *rule_path_trusted(const struct cidr *src, const char *comment)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, GATE_TABLE, GATE_CHAIN);

	if (!r)
		return NULL;
	match_source(r, src);
	verdict(r, NF_ACCEPT);
	set_comment(r, comment);
	return r;
}

/* meta l4proto tcp ct original proto-dst 80 tcp flags & (syn | ack) == syn | ack
 * meta nfproto ipv4 update @first4 { ip daddr . tcp dport . tcp ackseq }
 * The server's SYN-ACK names the client's first stream byte: remember it for two minutes. */
struct nftnl_rule *rule_path_expect(int nfproto, const char *comment)
{
	static const struct opening http = { .l4proto = IPPROTO_TCP, .port = 80 };
	const struct seq_key *k = seq_key(nfproto);
	struct nftnl_rule *r = rule_new(NFPROTO_INET, GATE_TABLE, GATE_EXPECT_CHAIN);
	uint8_t synack = 0x12;
	struct nftnl_expr *e;

	if (!r)
		return NULL;
	match_original_port(r, &http);
	payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
	bitwise_and(r, &synack, 1);
	cmp(r, NFT_CMP_EQ, &synack, 1);
	meta_load(r, NFT_META_NFPROTO);
	cmp(r, NFT_CMP_EQ, &k->nfproto, 1);
	payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, k->daddr_off, k->alen);
	payload_load_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, k->port_reg);
	payload_load_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 4, k->seq_reg);
	e = nftnl_expr_alloc("dynset");
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, k->set);
	add(r, e);
	set_comment(r, comment);
	return r;
}

/* chain expect { type filter hook postrouting priority -175; policy accept; }: sees the
 * SYN-ACK of local and DNAT'd servers before source NAT */
struct nftnl_chain *gate_expect_chain(void)
{
	struct nftnl_chain *c = gate_chain();

	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, GATE_EXPECT_CHAIN);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_POST_ROUTING);
	return c;
}

/* set first4 { typeof ip saddr . tcp sport . tcp sequence; size 262144; flags dynamic,timeout;
 * timeout 10s; } (first6 likewise). A CA's client sends its request right after the
 * handshake: 10 s is plenty, and keeps both the room a SYN flood can fill and the life of a
 * stale entry small. */
struct nftnl_set *gate_first_set(int nfproto)
{
	const struct seq_key *k = seq_key(nfproto);
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, GATE_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, k->set);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, k->alen + 4 + 4);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
	nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FIRST_TIMEOUT_MS);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FIRST_SET_SIZE);
	nftnl_set_set_u32(s, NFTNL_SET_ID, nfproto == NFPROTO_IPV6 ? 3 : 2);
	return s;
}

struct nftnl_table *gate_table(void)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, GATE_TABLE);
	return t;
}

/* chain gate { type filter hook prerouting priority -175; policy accept; } */
struct nftnl_chain *gate_chain(void)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, GATE_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, GATE_CHAIN);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, GATE_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return c;
}

static void set_add_char(struct nftnl_set *s, uint8_t ch)
{
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();

	if (!el)
		return;
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &ch, sizeof(ch));
	nftnl_set_elem_add(s, el);
}

/* set b64url { typeof @ih,0,8; elements = { A-Z a-z 0-9 - _ } } */
struct nftnl_set *gate_set(void)
{
	static const char alphabet[] = B64URL_ALPHABET;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, GATE_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, GATE_SET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 5);  /* nft's string type: elements print as characters */
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	for (const char *p = alphabet; *p; p++)
		set_add_char(s, (uint8_t)*p);
	return s;
}

/* set tokens { typeof @ih,256,344; elements = { "<token>", … } }: the tokens of a token-exact
 * window (344 bits for 43 characters) */
struct nftnl_set *gate_token_set(unsigned token_len, const char *const *tokens, size_t n)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, GATE_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, GATE_TOKEN_SET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 5);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, token_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 4);
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *el;

		if (strlen(tokens[i]) != token_len || !(el = nftnl_set_elem_alloc()))
			continue;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, tokens[i], token_len);
		nftnl_set_elem_add(s, el);
	}
	return s;
}

/* chain tally { type filter hook input priority 2147483647; policy accept; }: runs after every
 * other input chain, so it sees only what they all let in */
struct nftnl_chain *gate_tally_chain(void)
{
	struct nftnl_chain *c = gate_chain();

	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, GATE_TALLY_CHAIN);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, GATE_TALLY_PRIO);
	return c;
}

/* meta time < deadline meta l4proto tcp th dport 80 tcp flags & (syn | ack) == syn counter
 * (udp: every datagram): one count per connection that reached this host through the window */
struct nftnl_rule *rule_tally(const struct opening *o, time_t deadline, const char *comment)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, GATE_TABLE, GATE_TALLY_CHAIN);
	uint8_t synack = 0x12, syn = 0x02;

	if (!r)
		return NULL;
	match_before(r, deadline);
	match_port(r, o);
	if (o->l4proto == IPPROTO_TCP) {
		payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
		bitwise_and(r, &synack, 1);
		cmp(r, NFT_CMP_EQ, &syn, 1);
	}
	counter(r);
	set_comment(r, comment);
	return r;
}

void gate_comment(char *buf, size_t len, const char *what, time_t deadline)
{
	struct tm tm;
	char when[32] = "?";

	if (gmtime_r(&deadline, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, len, GATE_COMMENT_PREFIX " %s until %s", what, when);
}

bool gate_comment_is_ours(const char *comment)
{
	static const char *const whats[] = { "http-01", "tls-alpn-01", "dns", "http-01 path gate",
					     "http-01 responder" };
	const char *p = comment + strlen(GATE_COMMENT_PREFIX " ");
	struct tm tm;
	const char *end;

	if (strncmp(comment, GATE_COMMENT_PREFIX " ", strlen(GATE_COMMENT_PREFIX " ")))
		return false;
	if (!strcmp(p, "trusted source"))
		return true;
	for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
		size_t n = strlen(whats[i]);

		if (strncmp(p, whats[i], n) || strncmp(p + n, " until ", 7))
			continue;
		memset(&tm, 0, sizeof(tm));
		end = strptime(p + n + 7, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (end && *end == '\0')
			return true;
	}
	return false;
}

/* The pieces rules_nat.c builds its rules from (rules_expr.h). */
struct nftnl_rule *rule_expr_new(int family, const char *table, const char *chain)
{
	return rule_new(family, table, chain);
}

void rule_expr_world_http(struct nftnl_rule *r, time_t deadline)
{
	match_world_http(r, deadline);
}

void rule_expr_source(struct nftnl_rule *r, const struct cidr *src)
{
	match_source(r, src);
}

void rule_expr_counter(struct nftnl_rule *r)
{
	counter(r);
}

void rule_expr_verdict(struct nftnl_rule *r, int v)
{
	verdict(r, v);
}

void rule_expr_comment(struct nftnl_rule *r, const char *comment)
{
	set_comment(r, comment);
}
