/* window.c: leases and reconciliation: one atomic batch makes the gate rules in the kernel
 * match the leases. Needs CAP_NET_ADMIN (through nft.c); called by open, close and sweep. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "ct.h"
#include "responder_proc.h"
#include "rules.h"
#include "rules_nat.h"
#include "window.h"

#define APPLY_TRIES 3
/* The path gate keeps resetting for this long after the window's deadline: a connection made
 * during the window gets nothing until the next sweep ends it (the timer runs every minute),
 * while allowed users are not held behind the gate for long if nothing sweeps. */
#define GATE_GRACE_S 300

struct service {
	unsigned svc;
	enum rule_kind kind;
	struct opening open[2];
	size_t nopen;
};

static const struct service services[] = {
	{ SVC_HTTP01, KIND_OPEN_HTTP01, { { IPPROTO_TCP, 80 } }, 1 },
	{ SVC_TLSALPN01, KIND_OPEN_TLSALPN01, { { IPPROTO_TCP, 443 } }, 1 },
	{ SVC_DNS, KIND_OPEN_DNS, { { IPPROTO_UDP, 53 }, { IPPROTO_TCP, 53 } }, 2 },
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

/* What the leases want: a deadline per service (0 = closed), the HTTP-01 mode, and the
 * tokens the path gate passes when every http-01 lease named its tokens (exact). */
struct want {
	time_t deadline[NSERVICES];
	enum http01_mode mode;
	bool exact;
	const char *tokens[TOKENS_MAX];
	size_t ntokens;
};

/* An inserted rule: what it will be recorded as, and its operation in the batch. */
struct pending {
	struct rec_rule rec;
	int op;
};

/* A batch being built, with what each inserted rule will be recorded as. */
struct plan {
	struct nft_batch *b;
	struct pending *pending;
	size_t npending, cap;
	bool table_added;
	uint64_t packets[KIND_COUNT], bytes[KIND_COUNT];
};

int window_lease_open(struct state *st, const char *name, unsigned svcs,
		      enum http01_mode mode, time_t now, unsigned ttl, struct err *e)
{
	struct lease *l = state_find_lease(st, name);

	if (!l) {
		if (st->nleases == LEASES_MAX) {
			e->kind = ERR_KIND_STATE;
			return err_set(e, -ENOSPC, "too many leases (%d at most); close some first",
				       LEASES_MAX);
		}
		l = &st->leases[st->nleases++];
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", name);
		l->opened = now;
	}
	l->services |= svcs;
	l->mode = mode;
	l->deadline = now + (time_t)ttl;
	return 0;
}

int window_lease_close(struct state *st, const char *name)
{
	struct lease *l = state_find_lease(st, name);

	if (!l)
		return -ENOENT;
	state_drop_tokens(st, name, NULL);
	*l = st->leases[--st->nleases];
	return 0;
}

static bool is_gate_table(uint32_t family, const char *table)
{
	return family == NFPROTO_INET && !strcmp(table, GATE_TABLE);
}

static bool is_path_kind(enum rule_kind k)
{
	return k == KIND_PATH_ACCEPT || k == KIND_PATH_RESET || k == KIND_PATH_TRUSTED ||
	       k == KIND_PATH_EXPECT || k == KIND_REDIRECT;
}

/* How our table stands: how many of the rules the state records there the kernel still holds
 * (with our comment); and for the path gate's own rules, how many are recorded and held. */
struct gate_view {
	size_t present;
	size_t path_recorded, path_present;
};

static struct gate_view gate_view(const struct ruleset *rs, const struct state *st)
{
	struct gate_view g = { 0 };

	for (size_t i = 0; i < st->nrules; i++) {
		const struct rec_rule *r = &st->rules[i];
		const struct rs_rule *k;

		if (!is_gate_table(r->family, r->table))
			continue;
		k = rs->gate_table ? ruleset_find_rule(rs, r->family, r->table, r->chain, r->handle) : NULL;
		k = k && gate_comment_is_ours(k->comment) ? k : NULL;
		g.present += k != NULL;
		g.path_recorded += is_path_kind(r->kind);
		g.path_present += k && is_path_kind(r->kind);
	}
	return g;
}

/* The gate we made lost rules (its table deleted, flushed or emptied): without it, an http-01
 * opener opens the whole port. */
static bool gate_broken(const struct gate_view *g)
{
	return g->path_recorded && g->path_present < g->path_recorded;
}

int window_gate_missing(struct nft *n, const struct state *st, struct err *e)
{
	struct ruleset rs = { 0 };
	struct gate_view g;
	bool any = false;
	int r;

	for (size_t i = 0; i < st->nrules && !any; i++)
		any = is_path_kind(st->rules[i].kind);
	if (!any)
		return 0;
	r = nft_dump(n, &rs, e);
	if (r == 0) {
		g = gate_view(&rs, st);
		r = gate_broken(&g);
	}
	ruleset_free(&rs);
	return r;
}

bool window_needs_sweep(const struct state *st, time_t now)
{
	for (size_t i = 0; i < st->nleases; i++)
		if (st->leases[i].deadline <= now)
			return true;
	return st->nleases == 0 && st->nrules > 0;
}

static size_t drop_expired(struct state *st, time_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nleases;) {
		if (st->leases[i].deadline <= now) {
			state_drop_tokens(st, st->leases[i].name, NULL);
			st->leases[i] = st->leases[--st->nleases];
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* Port mode wins when any lease asks for it: it is what a standalone client needs. Then the
 * responder: it serves every challenge the path gate would pass (from the webroot, or the web
 * server itself through the relay). The gate
 * is token-exact only while every http-01 lease named its tokens. */
static void want_from_leases(const struct state *st, struct want *w)
{
	memset(w, 0, sizeof(*w));
	w->exact = true;
	for (size_t i = 0; i < st->nleases; i++) {
		const struct lease *l = &st->leases[i];

		for (size_t s = 0; s < NSERVICES; s++)
			if ((l->services & services[s].svc) && l->deadline > w->deadline[s])
				w->deadline[s] = l->deadline;
		if ((l->services & SVC_HTTP01) && l->mode == HTTP01_PORT)
			w->mode = HTTP01_PORT;
		if ((l->services & SVC_HTTP01) && l->mode == HTTP01_RESPONDER && w->mode != HTTP01_PORT)
			w->mode = HTTP01_RESPONDER;
		if ((l->services & SVC_HTTP01) && !state_lease_tokens(st, l->name))
			w->exact = false;
	}
	for (size_t i = 0; i < st->ntokens && w->ntokens < TOKENS_MAX; i++) {
		size_t j = 0;

		while (j < w->ntokens && strcmp(w->tokens[j], st->tokens[i].token))
			j++;
		if (j == w->ntokens)
			w->tokens[w->ntokens++] = st->tokens[i].token;
	}
	w->exact = w->exact && w->ntokens > 0;
}


static bool is_ours(const struct rs_rule *r)
{
	return gate_comment_is_ours(r->comment);
}

/* Whether one of our recorded rules still stands in this chain. */
static bool chain_holds_ours(const struct ruleset *rs, const struct rs_chain *ch)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rs_rule *r = &rs->rules[i];

		if (r->claimed && r->family == ch->family && !strcmp(r->table, ch->table) &&
		    !strcmp(r->chain, ch->name))
			return true;
	}
	return false;
}

/* Our table may be replaced only if it still holds rules we recorded there and nothing but
 * what acmegate puts there. */
static int check_gate_table(const struct ruleset *rs, const struct state *st, struct err *e)
{
	struct gate_view g = gate_view(rs, st);

	if (rs->gate_table && !g.present && !st->reclaim)
		return err_set(e, -EEXIST, "table inet " GATE_TABLE " exists, but holds none of the rules "
			       "acmegate's state records (another program's, emptied, or left by a crash): "
			       "look at it with 'nft list table inet " GATE_TABLE "' and delete it if it "
			       "is acmegate's");
	for (size_t i = 0; rs->gate_table && i < rs->nchains; i++) {
		const struct rs_chain *ch = &rs->chains[i];

		if (is_gate_table(ch->family, ch->table) && strcmp(ch->name, GATE_CHAIN) &&
		    strcmp(ch->name, GATE_EXPECT_CHAIN) && strcmp(ch->name, GATE_TALLY_CHAIN) &&
		    strcmp(ch->name, RESPONDER_CHAIN))
			goto foreign;
	}
	for (size_t i = 0; rs->gate_table && i < rs->nrules; i++) {
		const struct rs_rule *r = &rs->rules[i];

		if (is_gate_table(r->family, r->table) && !gate_comment_is_ours(r->comment))
			goto foreign;
	}
	return 0;
foreign:
	return err_set(e, -EEXIST, "table inet " GATE_TABLE " exists and holds chains or rules that "
		       "are not acmegate's; acmegate needs that name: rename the table");
}

static int plan_record(struct plan *p, int op, const struct rec_rule *rec)
{
	if (op < 0)
		return op;
	if (array_grow((void **)&p->pending, &p->cap, p->npending, sizeof(*p->pending)) < 0)
		return -ENOMEM;
	p->pending[p->npending++] = (struct pending){ .rec = *rec, .op = op };
	return 0;
}

static void plan_free(struct plan *p)
{
	nft_batch_free(p->b);
	free(p->pending);
}

static void describe(char *buf, size_t len, const char *verb, uint32_t family,
		     const char *table, const char *chain)
{
	snprintf(buf, len, "%s in %s %s %s", verb, family_name(family), table, chain);
}

static void count_removed(struct plan *p, enum rule_kind kind, const struct rs_rule *rr)
{
	p->packets[kind] += rr->packets;
	p->bytes[kind] += rr->bytes;
}

/* Our recorded rules: delete those that still carry our comment. Rules in our own table go
 * with the table. */
static int plan_remove_recorded(struct plan *p, struct ruleset *rs, const struct state *st,
				struct window_report *rep)
{
	char desc[200];

	for (size_t i = 0; i < st->nrules; i++) {
		const struct rec_rule *r = &st->rules[i];
		struct rs_rule *rr = ruleset_find_rule(rs, r->family, r->table, r->chain, r->handle);

		if (!rr) {
			rep->vanished++;
			continue;
		}
		if (!is_ours(rr)) {
			rep->foreign++;
			continue;
		}
		rr->claimed = true;
		count_removed(p, r->kind, rr);
		if (is_gate_table(r->family, r->table))
			continue;
		describe(desc, sizeof(desc), "removing our rule", r->family, r->table, r->chain);
		int ret = nft_batch_delete_rule(p->b, r->family, r->table, r->chain, r->handle, desc);

		if (ret < 0)
			return ret;
		rep->rules_removed++;
	}
	return 0;
}

/* Rules with our comment that nobody recorded: left by a run that died between its batch
 * and saving the state. They are ours by their comment; remove them too. */
static int plan_remove_leftovers(struct plan *p, struct ruleset *rs, struct window_report *rep)
{
	char desc[200];

	for (size_t i = 0; i < rs->nrules; i++) {
		struct rs_rule *rr = &rs->rules[i];

		if (rr->claimed || !is_ours(rr) || is_gate_table(rr->family, rr->table))
			continue;
		describe(desc, sizeof(desc), "removing a leftover rule", rr->family, rr->table, rr->chain);
		int ret = nft_batch_delete_rule(p->b, rr->family, rr->table, rr->chain, rr->handle, desc);

		if (ret < 0)
			return ret;
		rep->leftover++;
		rep->rules_removed++;
	}
	return 0;
}

/* "add table; delete table" removes our table even if it appeared after our dump. Only when
 * the dump saw it: a batch that deletes nothing spares the caller the kernel's deferred
 * cleanup (an RCU grace period) when the netlink socket closes. */
static int plan_drop_gate_table(struct plan *p, const struct ruleset *rs, const struct state *st)
{
	struct gate_view g = gate_view(rs, st);

	/* not ours (any more): left alone, unless close --all reclaims it (check_gate_table saw
	 * only our chains and rules in it) */
	if (!rs->gate_table || (!g.present && !st->reclaim))
		return 0;
	int r = nft_batch_add_table(p->b, gate_table(), "preparing table inet " GATE_TABLE);

	return r < 0 ? r : nft_batch_delete_table(p->b, gate_table(), "removing table inet " GATE_TABLE);
}

static const int families[2] = { NFPROTO_IPV4, NFPROTO_IPV6 };

/* Our table, once per batch, by whichever part needs it first. */
static int plan_table(struct plan *p)
{
	if (p->table_added)
		return 0;
	p->table_added = true;
	return nft_batch_add_table(p->b, gate_table(), "creating table inet " GATE_TABLE);
}

/* One counter per opening at the end of input: the connections the window let in. */
static int plan_tally(struct plan *p, const struct conf *c, unsigned svcs, const struct want *w)
{
	char comment[128];
	struct rec_rule rec = { .family = NFPROTO_INET, .table = GATE_TABLE,
				.chain = GATE_TALLY_CHAIN, .kind = KIND_TALLY };
	int r;

	if ((r = plan_table(p)) < 0 ||
	    (r = nft_batch_add_chain(p->b, gate_tally_chain(), "creating the tally chain")) < 0)
		return r;
	r = 0;
	for (size_t s = 0; s < NSERVICES; s++) {
		if (!(svcs & services[s].svc) || !w->deadline[s])
			continue;
		gate_comment(comment, sizeof(comment), svc_name(services[s].svc), w->deadline[s]);
		for (size_t i = 0; i < services[s].nopen && r == 0; i++)
			r = plan_record(p, nft_batch_insert_rule(p->b, rule_tally(&services[s].open[i],
						w->deadline[s], comment), "inserting a tally rule"), &rec);
	}
	/* redirected connections arrive at the responder's port, not at 80 */
	if (r == 0 && (svcs & SVC_HTTP01) && w->mode == HTTP01_RESPONDER) {
		gate_comment(comment, sizeof(comment), svc_name(SVC_HTTP01), w->deadline[0]);
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_tally(&(struct opening){
					IPPROTO_TCP, (uint16_t)c->responder_port }, w->deadline[0],
					comment), "inserting a tally rule"), &rec);
	}
	return r;
}

/* Token-exact: only the tokens the leases named; else any token of the configured length. */
static int plan_token_set(struct plan *p, const struct conf *c, const struct want *w)
{
	if (w->exact)
		return nft_batch_add_set(p->b, gate_token_set(c->token_length, w->tokens, w->ntokens),
					 "creating the set of challenge tokens");
	return nft_batch_add_set(p->b, gate_set(), "creating the token character set");
}

/* The responder's nat chain: trusted sources return to the real web server first, then the
 * world's tcp/80 goes to the responder's port. */
static int plan_responder(struct plan *p, const struct conf *c, time_t deadline)
{
	char comment[128];
	struct rec_rule rec = { .family = NFPROTO_INET, .table = GATE_TABLE,
				.chain = RESPONDER_CHAIN, .kind = KIND_REDIRECT };
	int r;

	gate_comment(comment, sizeof(comment), RESPONDER_WHAT, deadline);
	if ((r = plan_table(p)) < 0 ||
	    (r = nft_batch_add_chain(p->b, responder_chain(), "creating the responder's nat chain")) < 0)
		return r;
	r = plan_record(p, nft_batch_insert_rule(p->b, rule_responder_redirect(deadline,
				(uint16_t)c->responder_port, comment), "inserting the redirect to the responder"),
			&rec);
	/* each insert goes to the head: the returns end up above the redirect */
	rec.kind = KIND_PATH_TRUSTED;
	for (size_t i = 0; i < c->ntrusted && r == 0; i++)
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_responder_trusted(&c->trusted[i],
						GATE_COMMENT_PREFIX " trusted source"),
						"inserting a trusted source into the responder's chain"), &rec);
	return r;
}

static int plan_path_gate(struct plan *p, const struct conf *c, const struct want *w)
{
	char comment[128];
	struct rec_rule rec = { .family = NFPROTO_INET, .table = GATE_TABLE, .chain = GATE_CHAIN };
	time_t deadline = w->deadline[0];
	int r;

	gate_comment(comment, sizeof(comment), "http-01 path gate", deadline);
	if ((r = plan_table(p)) < 0 || (r = plan_token_set(p, c, w)) < 0 ||
	    (r = nft_batch_add_set(p->b, gate_first_set(NFPROTO_IPV4), "creating set first4")) < 0 ||
	    (r = nft_batch_add_set(p->b, gate_first_set(NFPROTO_IPV6), "creating set first6")) < 0 ||
	    (r = nft_batch_add_chain(p->b, gate_chain(), "creating the path gate chain")) < 0 ||
	    (r = nft_batch_add_chain(p->b, gate_expect_chain(), "creating the expect chain")) < 0)
		return r;
	r = 0;
	rec.kind = KIND_PATH_EXPECT;
	snprintf(rec.chain, sizeof(rec.chain), GATE_EXPECT_CHAIN);
	for (int i = 0; i < 2 && r == 0; i++)
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_path_expect(families[i], comment),
							 "inserting the path gate's expect rule"), &rec);
	snprintf(rec.chain, sizeof(rec.chain), GATE_CHAIN);
	/* each insert goes to the head: the reset first, so the accepts end up above it */
	rec.kind = KIND_PATH_RESET;
	if (r == 0)
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_path_reset(deadline + GATE_GRACE_S, comment),
							 "inserting the path gate's reset rule"), &rec);
	rec.kind = KIND_PATH_ACCEPT;
	for (int i = 0; i < 2 && r == 0; i++)
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_path_accept(families[i], deadline,
						c->token_length, w->exact, comment),
						"inserting the path gate's accept rule"), &rec);
	rec.kind = KIND_PATH_TRUSTED;
	for (size_t i = 0; i < c->ntrusted && r == 0; i++)
		r = plan_record(p, nft_batch_insert_rule(p->b, rule_path_trusted(&c->trusted[i],
						GATE_COMMENT_PREFIX " trusted source"),
						"inserting a trusted source into the path gate"), &rec);
	return r;
}

/* A filter base chain of another table on a hook that sees inbound (or forwarded) traffic. */
static bool is_candidate(const struct rs_chain *ch, bool forward)
{
	return ch->base && !strcmp(ch->type, "filter") && !is_gate_table(ch->family, ch->table) &&
	       hook_is_inbound(ch->family, ch->hooknum, forward);
}

/* Forward chains see the port after DNAT rewrote it: ask about the protocol only. */
static bool chain_drops_opening(struct ruleset *rs, struct rs_chain *ch, const struct opening *o)
{
	struct rs_traffic t = { .l4proto = o->l4proto, .dport = o->port };

	if (hook_is_forward(ch->family, ch->hooknum))
		t.dport = -1;
	return ruleset_chain_drops(rs, ch, &t);
}

/* How an opener must match in this chain:
 * - before destination NAT (ingress, early prerouting) the address is still the original:
 *   only traffic for this host (routed traffic stays closed);
 * - after it (late prerouting, input, forward) the port may have been rewritten (a redirect
 *   from 8080 to 80): match the connection's original port;
 * - forward: only connections DNAT published;
 * - once conntrack has looked (priority above -200), invalid packets stay with the chain;
 * - in responder mode, prerouting after our redirect (-101) already sees the responder's port.
 */
static unsigned opener_flags(const struct rs_chain *ch, enum http01_mode mode)
{
	int nat_dst = mode == HTTP01_RESPONDER ? RESPONDER_PRIO : NF_IP_PRI_NAT_DST;
	bool ingress = ch->family == NFPROTO_NETDEV || ch->hooknum == NF_INET_INGRESS;
	bool prerouting = !ingress && ch->hooknum == NF_INET_PRE_ROUTING;
	unsigned flags = 0;

	if (ingress)
		return OPEN_LOCAL;
	if (!prerouting || ch->prio > NF_IP_PRI_CONNTRACK)
		flags |= OPEN_SKIP_INVALID;
	if (prerouting && ch->prio <= nat_dst)
		flags |= OPEN_LOCAL;
	else
		flags |= OPEN_ORIGINAL_PORT;
	if (hook_is_forward(ch->family, ch->hooknum))
		flags |= OPEN_DNAT;
	return flags;
}

/* Inserts, at the head of the chain, one opener per wanted opening the chain can drop;
 * returns how many, or -errno. */
static int plan_openers_in(struct plan *p, struct ruleset *rs, struct rs_chain *ch,
			   const struct want *w, struct window_report *rep)
{
	struct rec_rule rec = { .family = ch->family };
	char comment[128], desc[200];
	int n = 0, r;

	snprintf(rec.table, sizeof(rec.table), "%s", ch->table);
	snprintf(rec.chain, sizeof(rec.chain), "%s", ch->name);
	describe(desc, sizeof(desc), "inserting a gate rule", ch->family, ch->table, ch->name);
	for (size_t s = 0; s < NSERVICES; s++) {
		if (!w->deadline[s])
			continue;
		gate_comment(comment, sizeof(comment), svc_name(services[s].svc), w->deadline[s]);
		rec.kind = services[s].kind;
		for (size_t i = 0; i < services[s].nopen; i++) {
			const struct opening *o = &services[s].open[i];

			if (!chain_drops_opening(rs, ch, o))
				continue;
			r = plan_record(p, nft_batch_insert_rule(p->b, rule_opener((int)ch->family,
					ch->table, ch->name, o, w->deadline[s], comment,
					opener_flags(ch, w->mode)), desc), &rec);
			if (r < 0)
				return r;
			rep->services |= services[s].svc;
			n++;
		}
	}
	return n;
}

static void note_chain(struct window_report *rep, const struct rs_chain *ch)
{
	size_t len = strlen(rep->chain_list);

	snprintf(rep->chain_list + len, sizeof(rep->chain_list) - len, "%s%s %s %s",
		 len ? ", " : "", family_name(ch->family), ch->table, ch->name);
}

static bool drops_any_wanted(struct ruleset *rs, struct rs_chain *ch, const struct want *w)
{
	for (size_t s = 0; s < NSERVICES; s++)
		for (size_t i = 0; w->deadline[s] && i < services[s].nopen; i++)
			if (chain_drops_opening(rs, ch, &services[s].open[i]))
				return true;
	return false;
}

/* close and sweep (!may_open) only renew rules that still stand: a window whose rules someone
 * removed (a firewall reload) stays closed until the next explicit open. */
static int plan_openers(struct plan *p, struct ruleset *rs, const struct conf *c,
			const struct want *w, bool may_open, struct window_report *rep)
{
	int r;

	for (size_t i = 0; i < rs->nchains; i++) {
		struct rs_chain *ch = &rs->chains[i];

		if (!may_open && !chain_holds_ours(rs, ch))
			continue;
		if (!c->forward && hook_is_forward(ch->family, ch->hooknum) && is_candidate(ch, true) &&
		    drops_any_wanted(rs, ch, w))
			rep->forward_skipped++;
		if (!is_candidate(ch, c->forward))
			continue;
		r = plan_openers_in(p, rs, ch, w, rep);
		if (r < 0)
			return r;
		if (r > 0) {
			rep->chains++;
			note_chain(rep, ch);
		}
	}
	return 0;
}

static int plan_build(struct plan *p, struct ruleset *rs, const struct conf *c,
		      const struct state *st, const struct want *want, bool may_open,
		      struct window_report *rep)
{
	struct want w = *want;
	struct gate_view g;
	int r;

	if ((r = plan_remove_recorded(p, rs, st, rep)) < 0 ||
	    (r = plan_remove_leftovers(p, rs, rep)) < 0)
		return r;
	/* a path gate we had was removed: without it an http-01 opener would open the whole
	 * port, so the http-01 window stays closed until the next explicit open */
	g = gate_view(rs, st);
	if (!may_open && w.mode != HTTP01_PORT && gate_broken(&g))
		w.deadline[0] = 0;
	if ((r = plan_drop_gate_table(p, rs, st)) < 0 ||
	    (r = plan_openers(p, rs, c, &w, may_open, rep)) < 0)
		return r;
	if (rep->services && (r = plan_tally(p, c, rep->services, &w)) < 0)
		return r;
	/* Nothing drops tcp/80: the world already reaches it, and there is nothing to gate. */
	if ((rep->services & SVC_HTTP01) && w.deadline[0] && w.mode == HTTP01_PATH)
		r = plan_path_gate(p, c, &w);
	if ((rep->services & SVC_HTTP01) && w.deadline[0] && w.mode == HTTP01_RESPONDER)
		r = plan_responder(p, c, w.deadline[0]);
	rep->exact = (rep->services & SVC_HTTP01) && w.mode != HTTP01_PORT && w.exact;
	rep->ntokens = w.ntokens;
	return r;
}

/* The batch went through: the state now records exactly what the kernel holds. */
static int record(struct state *st, const struct plan *p)
{
	st->nrules = 0;
	for (int k = 0; k < KIND_COUNT; k++) {
		st->packets[k] += p->packets[k];
		st->bytes[k] += p->bytes[k];
	}
	for (size_t i = 0; i < p->npending; i++) {
		struct rec_rule rec = p->pending[i].rec;

		rec.handle = nft_batch_handle(p->b, p->pending[i].op);
		if (rec.handle == 0)
			return -EPROTO;
		if (state_add_rule(st, &rec) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int apply_once(struct nft *n, const struct conf *c, struct state *st, const struct want *w,
		      bool may_open, struct window_report *rep, struct err *e)
{
	struct ruleset rs = { 0 };
	struct plan p = { .b = nft_batch_new(n) };
	int r;

	if (!p.b)
		return err_set(e, -ENOMEM, "out of memory");
	r = nft_dump(n, &rs, e);
	if (r == 0)
		r = check_gate_table(&rs, st, e);
	if (r < 0)
		goto out;
	r = plan_build(&p, &rs, c, st, w, may_open, rep);
	if (r < 0) {
		err_set(e, r, "nftables: cannot build the change: %s", strerror(-r));
		goto out;
	}
	r = nft_batch_commit(p.b, e);
	if (r == 0 && record(st, &p) < 0)
		r = err_set(e, -EPROTO, "nftables: the kernel did not echo the handle of a new rule");
out:
	plan_free(&p);
	ruleset_free(&rs);
	return r;
}

static bool legacy_tables(const char *proc)
{
	FILE *f = fopen(proc, "re");
	int ch = EOF;

	if (f) {
		ch = fgetc(f);
		fclose(f);
	}
	return ch != EOF;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When the window closes fully: how long it was open and what passed, for the log line and
 * the exposure log. */
static void window_totals(struct state *st, struct window_report *rep)
{
	int64_t t = now_ms();

	if (rep->deadline && !st->window_opened_ms)
		st->window_opened_ms = t;
	if (rep->deadline) {
		st->window_until = rep->deadline;
		return;
	}
	/* a window the kernel closed at its deadline was open until then, not until the sweep */
	if (st->window_until && st->window_until * (int64_t)1000 < t)
		t = st->window_until * (int64_t)1000;
	if (st->window_opened_ms && t < st->window_opened_ms)
		t = st->window_opened_ms;
	if (st->window_opened_ms) {
		rep->opened_ms = st->window_opened_ms;
		rep->closed_ms = t;
		rep->open_seconds = (time_t)((t - st->window_opened_ms + 500) / 1000);
	}
	memcpy(rep->packets, st->packets, sizeof(rep->packets));
	memset(st->packets, 0, sizeof(st->packets));
	memset(st->bytes, 0, sizeof(st->bytes));
	st->window_opened_ms = 0;
	st->window_until = 0;
}

/* A damaged or edited state file must not stretch a window past what the config allows. */
static void clamp_deadlines(struct state *st, const struct conf *c, time_t now)
{
	for (size_t i = 0; i < st->nleases; i++)
		if (st->leases[i].deadline > now + (time_t)c->max_ttl)
			st->leases[i].deadline = now + (time_t)c->max_ttl;
}

static bool recorded_kind(const struct state *st, enum rule_kind k)
{
	for (size_t i = 0; i < st->nrules; i++)
		if (st->rules[i].kind == k)
			return true;
	return false;
}

/* Services our recorded openers opened. */
static unsigned recorded_services(const struct state *st)
{
	unsigned svcs = 0;

	for (size_t i = 0; i < st->nrules; i++)
		for (size_t s = 0; s < NSERVICES; s++)
			if (st->rules[i].kind == services[s].kind)
				svcs |= services[s].svc;
	return svcs;
}

/* Connections the closed services let in must not live on through an "established" accept. */
static void forget_connections(struct nft *nft, unsigned closed, struct window_report *rep)
{
	struct opening ports[4];
	struct err e = { .kind = ERR_KIND_NFT };
	size_t n = 0;
	int r;

	for (size_t s = 0; s < NSERVICES; s++)
		for (size_t i = 0; (closed & services[s].svc) && i < services[s].nopen; i++)
			ports[n++] = services[s].open[i];
	r = ct_forget(nft, ports, n, &e);
	if (r < 0)
		snprintf(rep->ct_error, sizeof(rep->ct_error), "%s", e.msg);
	else
		rep->ct_forgotten = (size_t)r;
}

/* The tokens file follows the gate: present exactly while the window is token-exact. */
static int write_tokens(const struct conf *c, const struct want *w, const struct window_report *rep,
			struct err *e)
{
	int r = state_write_tokens(c->state_dir, rep->exact ? w->tokens : NULL, w->ntokens);

	if (r < 0) {
		e->kind = ERR_KIND_STATE;
		return err_set(e, r, "%s/tokens: cannot write: %s", c->state_dir, strerror(-r));
	}
	return 0;
}

/* The responder runs exactly while the window redirects to it, until the window's deadline. */
static void sync_responder(const struct conf *c, const struct want *w, struct window_report *rep)
{
	struct err e = { 0 };
	bool on = (rep->services & SVC_HTTP01) && w->mode == HTTP01_RESPONDER;

	if (responder_sync(c, on ? w->deadline[0] : 0, &e) < 0)
		snprintf(rep->responder_error, sizeof(rep->responder_error), "%s", e.msg);
}

int window_apply(struct nft *n, const struct conf *c, struct state *st, time_t now,
		 bool may_open, struct window_report *rep, struct err *e)
{
	struct want w;
	unsigned before = recorded_services(st);
	bool redirected = recorded_kind(st, KIND_REDIRECT);
	int r = -ENOENT;

	memset(rep, 0, sizeof(*rep));
	clamp_deadlines(st, c, now);
	rep->expired = drop_expired(st, now);
	want_from_leases(st, &w);
	/* ENOENT: someone removed one of our rules between our dump and our batch: look again */
	for (int i = 0; i < APPLY_TRIES && r == -ENOENT; i++) {
		struct window_report fresh = { .expired = rep->expired };

		*rep = fresh;
		r = apply_once(n, c, st, &w, may_open, rep, e);
	}
	if (r < 0)
		return r;
	for (size_t s = 0; s < NSERVICES; s++)
		if ((rep->services & services[s].svc) && w.deadline[s] > rep->deadline)
			rep->deadline = w.deadline[s];
	rep->leases_left = st->nleases;
	/* switching to the responder: connections made to the web server before must end, or
	 * they would keep asking it anything through the established accept */
	if ((before & SVC_HTTP01) && (rep->services & SVC_HTTP01) && w.mode == HTTP01_RESPONDER &&
	    !redirected)
		forget_connections(n, SVC_HTTP01, rep);
	if (before & ~rep->services)
		forget_connections(n, before & ~rep->services, rep);
	rep->mode = w.mode;
	rep->legacy4 = legacy_tables("/proc/net/ip_tables_names");
	rep->legacy6 = legacy_tables("/proc/net/ip6_tables_names");
	window_totals(st, rep);
	r = state_save(c->state_dir, st, e);
	if (r == 0)
		r = write_tokens(c, &w, rep, e);
	if (r == 0)
		sync_responder(c, &w, rep);
	if (r == 0 && rep->closed_ms)
		rep->exposure_error = state_log_exposure(c->state_dir, rep->opened_ms, rep->closed_ms,
							 rep->packets);
	return r;
}
