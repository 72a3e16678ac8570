/* nft.c: netlink to nf_tables: dumps, atomic batches, acks by sequence number, echoed handles.
 * Needs CAP_NET_ADMIN; called by window.c and the status command.
 *
 * errno policy (what the kernel can answer and what we make of it):
 *   EPERM          for the whole batch: no CAP_NET_ADMIN in this namespace; for one message:
 *                  a table owned by another process (returned as EACCES). Nothing changed.
 *   EINTR (dump)   the ruleset changed during a dump: the dump restarts (bounded).
 *   ENOENT         a rule or table to delete is gone: the caller re-dumps and retries once.
 *   EPROTONOSUPPORT/EAFNOSUPPORT/EOPNOTSUPP  no nf_tables in this kernel.
 *   anything else  the batch is refused as a whole; the message names the operation. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include "array.h"
#include "nft.h"
#include "rules.h"

#define NFT_MSG_ROOM 65536         /* room reserved per message while building a batch */
#define RCVBUF_SIZE (8 << 20)
#define DUMP_RESTARTS 16

struct nft {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	bool deleted;      /* a committed batch deleted objects */
};

struct op {
	uint32_t seq;
	char desc[200];
	uint64_t handle;   /* echoed NEWRULE handle */
	int acked;
};

struct nft_batch {
	struct nft *nft;
	char *buf;
	size_t len, cap;
	struct op *ops;
	size_t nops, cap_ops;
	bool deletes;
	int failed;        /* -errno of the first build failure */
};

int nft_open(struct nft **ret, struct err *e)
{
	struct nft *n = calloc(1, sizeof(*n));
	int one = 1, size = RCVBUF_SIZE;

	if (!n)
		return err_set(e, -ENOMEM, "out of memory");
	n->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->nl) {
		int r = -errno;

		free(n);
		return err_set(e, r, "netlink: cannot open a netfilter socket: %s", strerror(-r));
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;

		nft_close(n);
		return err_set(e, r, "netlink: cannot bind: %s", strerror(-r));
	}
	/* Extended acks name the failing attribute; replies to a big batch need room. */
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	*ret = n;
	return 0;
}

/* After a batch that deleted objects, the last close of a netfilter netlink socket waits for
 * nf_tables' deferred cleanup (an RCU grace period: 10-30 ms, most of a close's time). The
 * change is committed by then; a child that keeps only this socket takes that wait, so the
 * hook that called us does not. It holds no other file, so no lock and no pipe of the
 * caller's (certbot waits for EOF on the hook's output) outlives us. */
static void release_in_child(struct nft *n)
{
	int fd = mnl_socket_get_fd(n->nl);
	pid_t pid = fork();

	if (pid != 0)
		return;  /* parent, or fork failed: the caller's close then waits itself */
	if (fd > 0)
		close_range(0, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0u, 0);
	mnl_socket_close(n->nl);
	_exit(0);
}

void nft_close(struct nft *n)
{
	if (!n)
		return;
	if (n->nl && n->deleted)
		release_in_child(n);
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n);
}

struct mnl_socket *nft_socket(struct nft *n)
{
	return n->nl;
}

uint32_t nft_next_seq(struct nft *n)
{
	return ++n->seq;
}

/* ---- dumps ---- */

static int parse_chain(const struct nlmsghdr *nlh, void *data)
{
	struct ruleset *rs = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct rs_chain *out;

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	out = ruleset_add_chain(rs);
	if (!out)
		goto out;
	out->family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	snprintf(out->table, sizeof(out->table), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
	snprintf(out->name, sizeof(out->name), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		out->base = true;
		out->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		out->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		out->policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ?
			nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE))
			snprintf(out->type, sizeof(out->type), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
	}
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int parse_table(const struct nlmsghdr *nlh, void *data)
{
	struct ruleset *rs = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == NFPROTO_INET &&
	    !strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), GATE_TABLE))
		rs->gate_table = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	struct rs_rule *out = data;
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0) {
		const char *v = nftnl_udata_get(attr);

		snprintf(out->comment, sizeof(out->comment), "%.*s", (int)len, v);
	}
	return MNL_CB_OK;
}

/* What register 1 holds after a load, for reading "meta l4proto tcp" and "th dport 80". */
enum loaded { LOADED_OTHER, LOADED_L4PROTO, LOADED_DPORT };

static enum loaded read_load(struct nftnl_expr *e, const char *name)
{
	if (!strcmp(name, "meta") && nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == NFT_META_L4PROTO)
		return LOADED_L4PROTO;
	if (!strcmp(name, "payload") &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_TRANSPORT_HEADER &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 2 &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2)
		return LOADED_DPORT;
	return LOADED_OTHER;
}

/* "cmp eq" after such a load narrows what the rule can match; anything else says nothing. */
static void read_match(struct nftnl_expr *e, enum loaded loaded, struct rs_rule *out)
{
	uint32_t len;
	const uint8_t *d;

	if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ ||
	    nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) != NFT_REG_1)
		return;
	d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	if (loaded == LOADED_L4PROTO && len == 1)
		out->l4proto = d[0];
	else if (loaded == LOADED_DPORT && len == 2)
		out->dport = (d[0] << 8) | d[1];
}

static void read_expr(struct nftnl_expr *e, struct rs_rule *out, bool *counted,
		      enum loaded *loaded)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!strcmp(name, "cmp"))
		read_match(e, *loaded, out);
	*loaded = read_load(e, name);

	if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
		int32_t v = (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		if (v == NF_DROP)
			out->drops = true;
		else if ((v == NFT_JUMP || v == NFT_GOTO) && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
			snprintf(out->jump, sizeof(out->jump), "%s", nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
	} else if (!strcmp(name, "reject") || !strcmp(name, "queue")) {
		out->drops = true;
	} else if (!strcmp(name, "lookup") && nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
		/* a verdict map: its elements may drop or jump; we do not read them */
		out->drops = true;
	} else if (!strcmp(name, "counter") && !*counted) {
		out->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		out->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		*counted = true;
	}
}

static void read_exprs(struct nftnl_rule *r, struct rs_rule *out)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	enum loaded loaded = LOADED_OTHER;
	bool counted = false;

	if (!it)
		return;
	while ((e = nftnl_expr_iter_next(it)))
		read_expr(e, out, &counted, &loaded);
	nftnl_expr_iter_destroy(it);
}

static int parse_rule(const struct nlmsghdr *nlh, void *data)
{
	struct ruleset *rs = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rs_rule *out;
	const void *ud;
	uint32_t udlen;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	out = ruleset_add_rule(rs);
	if (!out)
		goto out;
	out->family = nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	snprintf(out->table, sizeof(out->table), "%s", nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
	snprintf(out->chain, sizeof(out->chain), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	out->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	read_exprs(r, out);
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
	if (ud)
		nftnl_udata_parse(ud, udlen, comment_cb, out);
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One dump request; returns -EINTR when the kernel says the ruleset changed meanwhile. */
static int dump_once(struct nft *n, uint16_t cmd, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct nlmsghdr *nlh;
	uint32_t seq = ++n->seq;
	int ret;

	nlh = nftnl_nlmsg_build_hdr(buf, cmd, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ret = (int)mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)ret, seq, n->portid, cb, data);
		if (ret <= MNL_CB_STOP)
			return ret < 0 ? -errno : 0;
	}
}

static const struct {
	uint16_t cmd;
	mnl_cb_t parse;
	const char *what;
} dumps[] = {
	{ NFT_MSG_GETTABLE, parse_table, "tables" },
	{ NFT_MSG_GETCHAIN, parse_chain, "chains" },
	{ NFT_MSG_GETRULE, parse_rule, "rules" },
};

static void dump_reset(struct ruleset *rs, uint16_t cmd)
{
	if (cmd == NFT_MSG_GETTABLE)
		rs->gate_table = false;
	else if (cmd == NFT_MSG_GETCHAIN)
		ruleset_reset_chains(rs);
	else
		ruleset_reset_rules(rs);
}

static int dump_kind(struct nft *n, struct ruleset *rs, size_t k, struct err *e)
{
	const char *what = dumps[k].what;
	int r = -EINTR;

	for (int i = 0; i < DUMP_RESTARTS && r == -EINTR; i++) {
		dump_reset(rs, dumps[k].cmd);
		r = dump_once(n, dumps[k].cmd, dumps[k].parse, rs);
	}
	if (r < 0)
		return err_set(e, r, "nftables: cannot list %s: %s", what, strerror(-r));
	return 0;
}

int nft_dump(struct nft *n, struct ruleset *rs, struct err *e)
{
	int r = 0;

	for (size_t k = 0; k < sizeof(dumps) / sizeof(dumps[0]) && r == 0; k++)
		r = dump_kind(n, rs, k, e);
	return r;
}

/* ---- batches ---- */

struct nft_batch *nft_batch_new(struct nft *n)
{
	struct nft_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->nft = n;
	b->cap = 4 * NFT_MSG_ROOM;
	b->buf = malloc(b->cap);
	if (!b->buf) {
		free(b);
		return NULL;
	}
	nftnl_batch_begin(b->buf, ++n->seq);
	b->len = NLMSG_ALIGN(((struct nlmsghdr *)b->buf)->nlmsg_len);
	return b;
}

void nft_batch_free(struct nft_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->ops);
	free(b);
}

/* Room for one more message and its op; returns the op or NULL (and marks the batch failed). */
static struct op *batch_reserve(struct nft_batch *b, const char *desc)
{
	struct op *op;

	if (b->len + NFT_MSG_ROOM > b->cap) {
		char *p = realloc(b->buf, b->cap * 2);

		if (!p)
			goto fail;
		b->buf = p;
		b->cap *= 2;
	}
	if (array_grow((void **)&b->ops, &b->cap_ops, b->nops, sizeof(*b->ops)) < 0)
		goto fail;
	op = &b->ops[b->nops];
	memset(op, 0, sizeof(*op));
	op->seq = ++b->nft->seq;
	snprintf(op->desc, sizeof(op->desc), "%s", desc);
	return op;
fail:
	b->failed = -ENOMEM;
	return NULL;
}

static struct nlmsghdr *batch_hdr(struct nft_batch *b, struct op *op, uint16_t cmd,
				  uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(b->buf + b->len, cmd, family, flags | NLM_F_ACK, op->seq);
}

static int batch_commit_msg(struct nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return (int)b->nops++;
}

int nft_batch_insert_rule(struct nft_batch *b, struct nftnl_rule *r, const char *desc)
{
	struct op *op = r ? batch_reserve(b, desc) : NULL;
	struct nlmsghdr *nlh;
	int ret;

	if (!op) {
		nftnl_rule_free(r);
		return b->failed = -ENOMEM;
	}
	/* No NLM_F_APPEND and no position: the kernel puts the rule at the head of the chain.
	 * NLM_F_ECHO returns the rule with the handle it was given. */
	nlh = batch_hdr(b, op, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
			NLM_F_CREATE | NLM_F_ECHO);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	ret = batch_commit_msg(b, nlh);
	nftnl_rule_free(r);
	return ret;
}

int nft_batch_delete_rule(struct nft_batch *b, uint32_t family, const char *table,
			  const char *chain, uint64_t handle, const char *desc)
{
	struct nftnl_rule *r;
	struct op *op;
	struct nlmsghdr *nlh;
	int ret;

	/* A DELRULE without a handle empties the whole chain: never send one. */
	if (handle == 0)
		return -EINVAL;
	r = nftnl_rule_alloc();
	op = r ? batch_reserve(b, desc) : NULL;
	if (!op) {
		nftnl_rule_free(r);
		return b->failed = -ENOMEM;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	b->deletes = true;
	nlh = batch_hdr(b, op, NFT_MSG_DELRULE, (uint16_t)family, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	ret = batch_commit_msg(b, nlh);
	nftnl_rule_free(r);
	return ret;
}

static int table_msg(struct nft_batch *b, struct nftnl_table *t, uint16_t cmd, uint16_t flags,
		     const char *desc)
{
	struct op *op = t ? batch_reserve(b, desc) : NULL;
	struct nlmsghdr *nlh;
	int ret;

	if (!op) {
		nftnl_table_free(t);
		return b->failed = -ENOMEM;
	}
	nlh = batch_hdr(b, op, cmd, (uint16_t)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	ret = batch_commit_msg(b, nlh);
	nftnl_table_free(t);
	return ret;
}

int nft_batch_add_table(struct nft_batch *b, struct nftnl_table *t, const char *desc)
{
	return table_msg(b, t, NFT_MSG_NEWTABLE, NLM_F_CREATE, desc);
}

int nft_batch_delete_table(struct nft_batch *b, struct nftnl_table *t, const char *desc)
{
	b->deletes = true;
	return table_msg(b, t, NFT_MSG_DELTABLE, 0, desc);
}

int nft_batch_add_chain(struct nft_batch *b, struct nftnl_chain *c, const char *desc)
{
	struct op *op = c ? batch_reserve(b, desc) : NULL;
	struct nlmsghdr *nlh;
	int ret;

	if (!op) {
		nftnl_chain_free(c);
		return b->failed = -ENOMEM;
	}
	nlh = batch_hdr(b, op, NFT_MSG_NEWCHAIN, (uint16_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY),
			NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	ret = batch_commit_msg(b, nlh);
	nftnl_chain_free(c);
	return ret;
}

static bool set_has_elems(struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	bool any = it && nftnl_set_elems_iter_next(it);

	nftnl_set_elems_iter_destroy(it);
	return any;
}

/* A set and its elements (if any): two messages, one op each. */
int nft_batch_add_set(struct nft_batch *b, struct nftnl_set *s, const char *desc)
{
	struct op *op = s ? batch_reserve(b, desc) : NULL;
	uint16_t family;
	struct nlmsghdr *nlh;
	int ret;

	if (!op) {
		nftnl_set_free(s);
		return b->failed = -ENOMEM;
	}
	family = (uint16_t)nftnl_set_get_u32(s, NFTNL_SET_FAMILY);
	nlh = batch_hdr(b, op, NFT_MSG_NEWSET, family, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	ret = batch_commit_msg(b, nlh);
	op = set_has_elems(s) ? batch_reserve(b, desc) : NULL;
	if (op) {
		nlh = batch_hdr(b, op, NFT_MSG_NEWSETELEM, family, NLM_F_CREATE);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_commit_msg(b, nlh);
	}
	nftnl_set_free(s);
	return b->failed ? b->failed : ret;
}

uint64_t nft_batch_handle(const struct nft_batch *b, int op)
{
	return op >= 0 && (size_t)op < b->nops ? b->ops[op].handle : 0;
}

static struct op *op_by_seq(struct nft_batch *b, uint32_t seq)
{
	/* seqs were handed out in increasing order (dumps may have taken some in between) */
	size_t lo = 0, hi = b->nops;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ops[mid].seq == seq)
			return &b->ops[mid];
		if (b->ops[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct reply_ctx {
	struct nft_batch *b;
	int error;              /* first -errno */
	const char *failed_op;  /* its description, NULL for the whole batch */
	size_t acks;
};

static void reply_error(struct reply_ctx *c, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct op *op = op_by_seq(c->b, nlh->nlmsg_seq);

	if (err->error == 0) {
		if (op && !op->acked) {
			op->acked = 1;
			c->acks++;
		}
		return;
	}
	if (c->error)
		return;
	c->error = err->error;
	c->failed_op = op ? op->desc : NULL;
}

static void reply_echo(struct reply_ctx *c, const struct nlmsghdr *nlh)
{
	struct op *op = op_by_seq(c->b, nlh->nlmsg_seq);
	struct nftnl_rule *r;

	if (!op || (nlh->nlmsg_type & 0xff) != NFT_MSG_NEWRULE)
		return;
	r = nftnl_rule_alloc();
	if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0)
		op->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	nftnl_rule_free(r);
}

/* Walks one buffer of replies: acks and errors by seq, echoed rules for their handles. */
static void read_replies(struct reply_ctx *c, const char *buf, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_pid != c->b->nft->portid && nlh->nlmsg_pid != 0)
			continue;
		if (nlh->nlmsg_type == NLMSG_ERROR)
			reply_error(c, nlh);
		else if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES)
			reply_echo(c, nlh);
	}
}

/* The kernel handles a batch inside sendmsg, so every reply is queued when it returns:
 * read until the queue is empty. */
static int collect_replies(struct reply_ctx *c)
{
	static char buf[1 << 16];
	int fd = mnl_socket_get_fd(c->b->nft->nl);
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		read_replies(c, buf, (size_t)n);
	}
}

static int send_batch(struct nft_batch *b)
{
	int fd = mnl_socket_get_fd(b->nft->nl);
	int size = (int)b->len * 2;

	if (size > 212992 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (mnl_socket_sendto(b->nft->nl, b->buf, b->len) < 0)
		return -errno;
	return 0;
}

int nft_batch_commit(struct nft_batch *b, struct err *e)
{
	struct reply_ctx c = { .b = b };
	struct nlmsghdr *nlh;
	int r;

	if (b->failed)
		return err_set(e, b->failed, "nftables: cannot build the change: %s", strerror(-b->failed));
	if (b->nops == 0)
		return 0;
	nlh = nftnl_batch_end(b->buf + b->len, ++b->nft->seq);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	r = send_batch(b);
	if (r == 0)
		r = collect_replies(&c);
	if (r < 0)
		return err_set(e, r, "nftables: talking to the kernel: %s", strerror(-r));
	/* EPERM for one message of an accepted batch is not a missing capability: the table
	 * belongs to another process (NFT_TABLE_F_OWNER), which alone may change it. */
	if (c.error == -EPERM && c.failed_op)
		return err_set(e, -EACCES, "nftables: the kernel refused %s: the table is owned by "
			       "another process, which alone may change it", c.failed_op);
	if (c.error)
		return err_set(e, c.error, "nftables: the kernel refused %s: %s",
			       c.failed_op ? c.failed_op : "the whole change", strerror(-c.error));
	if (c.acks != b->nops)
		return err_set(e, -EPROTO, "nftables: %zu of %zu changes were not acknowledged",
			       b->nops - c.acks, b->nops);
	b->nft->deleted |= b->deletes;
	return 0;
}
