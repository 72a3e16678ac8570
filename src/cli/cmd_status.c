/* cmd_status.c: `status [--json]`: leases, deadlines and the counters of our rules, read
 * from the state file and the kernel (CAP_NET_ADMIN for the counters). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "nft.h"
#include "responder_proc.h"
#include "rules.h"
#include "state.h"

struct view {
	const struct conf *conf;
	struct state st;
	struct ruleset rs;
	time_t now;
	bool have_counters;
};

static int load_view(const struct conf *c, struct view *v, struct err *e)
{
	struct nft *n = NULL;
	int lock, r;

	memset(v, 0, sizeof(*v));
	v->conf = c;
	v->now = time(NULL);
	lock = state_lock(c->state_dir, 30, e);
	if (lock < 0)
		return lock;
	r = state_load(c->state_dir, &v->st, e);
	state_unlock(lock);
	if (r < 0)
		return r;
	if (nft_open(&n, e) == 0 && nft_dump(n, &v->rs, e) == 0)
		v->have_counters = true;
	nft_close(n);
	return 0;
}

static void svc_list(char *buf, size_t len, unsigned svcs)
{
	buf[0] = '\0';
	for (unsigned bit = 1; bit & SVC_ALL; bit <<= 1)
		if (svcs & bit)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "", svc_name(bit));
}

static void print_leases(const struct view *v)
{
	char svcs[64], when[32];

	for (size_t i = 0; i < v->st.nleases; i++) {
		const struct lease *l = &v->st.leases[i];
		long long left = (long long)(l->deadline - v->now);

		svc_list(svcs, sizeof(svcs), l->services);
		if (l->services & SVC_HTTP01)
			snprintf(svcs + strlen(svcs), sizeof(svcs) - strlen(svcs), " (%s)", mode_name(l->mode));
		fmt_time(when, sizeof(when), l->deadline);
		if (left > 0)
			printf("  lease %-20s %-24s until %s (%lld s left)\n", l->name, svcs, when, left);
		else
			printf("  lease %-20s %-24s expired at %s (the kernel no longer lets traffic "
			       "through; 'acmegate sweep' removes it)\n", l->name, svcs, when);
		for (size_t t = 0; t < v->st.ntokens; t++)
			if (!strcmp(v->st.tokens[t].lease, l->name))
				printf("        token %s\n", v->st.tokens[t].token);
	}
}

static json_t *json_tokens(const struct view *v, const char *lease)
{
	json_t *a = json_array();

	for (size_t t = 0; t < v->st.ntokens; t++)
		if (!strcmp(v->st.tokens[t].lease, lease))
			json_array_append_new(a, json_string(v->st.tokens[t].token));
	return a;
}

static void print_rules(const struct view *v)
{
	for (size_t i = 0; i < v->st.nrules; i++) {
		const struct rec_rule *r = &v->st.rules[i];
		const struct rs_rule *k = v->have_counters ?
			ruleset_find_rule(&v->rs, r->family, r->table, r->chain, r->handle) : NULL;

		printf("  rule  %s %s %s handle %llu  %-16s ", family_name(r->family), r->table,
		       r->chain, (unsigned long long)r->handle, kind_name(r->kind));
		if (k && !gate_comment_is_ours(k->comment))
			printf("gone: the handle now holds a rule that is not acmegate's\n");
		else if (k)
			printf("%llu packets, %llu bytes\n", (unsigned long long)k->packets,
			       (unsigned long long)k->bytes);
		else
			printf("%s\n", v->have_counters ? "gone from the kernel" : "counters unavailable");
	}
}

static void print_responder(const struct view *v)
{
	char when[32];
	time_t until;
	unsigned port;
	int pid;

	if (responder_running(v->conf, &pid, &port, &until) < 0) {
		for (size_t i = 0; i < v->st.nrules; i++)
			if (v->st.rules[i].kind == KIND_REDIRECT) {
				printf("  responder: NOT RUNNING although the window redirects to it: "
				       "challenge requests are refused; 'acmegate open' starts it again "
				       "(see %s/responder.log)\n", v->conf->state_dir);
				break;
			}
		return;
	}
	fmt_time(when, sizeof(when), until);
	printf("  responder pid %d on port %u until %s (log: %s/responder.log)\n", pid, port, when,
	       v->conf->state_dir);
}

static void print_text(const struct view *v)
{
	time_t last = 0;

	for (size_t i = 0; i < v->st.nleases; i++)
		if (v->st.leases[i].deadline > last)
			last = v->st.leases[i].deadline;
	if (last > v->now && v->st.nrules)
		printf("window: open, %lld s left\n", (long long)(last - v->now));
	else if (last > v->now)
		printf("window: closed: %zu lease%s recorded, but no rule is open (no chain drops the "
		       "traffic, or someone removed the rules)\n", v->st.nleases, v->st.nleases == 1 ? "" : "s");
	else
		printf("window: closed\n");
	print_leases(v);
	print_responder(v);
	print_rules(v);
	if (v->st.packets[KIND_PATH_ACCEPT] || v->st.packets[KIND_OPEN_HTTP01])
		printf("  earlier rules of this window: %llu packets to tcp/80, %llu challenge requests\n",
		       (unsigned long long)v->st.packets[KIND_OPEN_HTTP01],
		       (unsigned long long)v->st.packets[KIND_PATH_ACCEPT]);
}

static json_t *json_leases(const struct view *v)
{
	json_t *a = json_array();
	char svcs[64];

	for (size_t i = 0; i < v->st.nleases; i++) {
		const struct lease *l = &v->st.leases[i];

		svc_list(svcs, sizeof(svcs), l->services);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "name", l->name,
			"challenges", svcs, "http01_mode", mode_name(l->mode), "opened", (json_int_t)l->opened,
			"deadline", (json_int_t)l->deadline, "seconds_left",
			(json_int_t)(l->deadline > v->now ? l->deadline - v->now : 0),
			"tokens", json_tokens(v, l->name)));
	}
	return a;
}

static json_t *json_rules(const struct view *v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->st.nrules; i++) {
		const struct rec_rule *r = &v->st.rules[i];
		const struct rs_rule *k = v->have_counters ?
			ruleset_find_rule(&v->rs, r->family, r->table, r->chain, r->handle) : NULL;
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b}", "family", family_name(r->family),
			"table", r->table, "chain", r->chain, "handle", (json_int_t)r->handle,
			"kind", kind_name(r->kind), "present", k != NULL);

		if (k) {
			json_object_set_new(o, "packets", json_integer((json_int_t)k->packets));
			json_object_set_new(o, "bytes", json_integer((json_int_t)k->bytes));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static int print_json(const struct view *v)
{
	json_t *root = json_pack("{s:I, s:o, s:o, s:b}", "now", (json_int_t)v->now,
				 "leases", json_leases(v), "rules", json_rules(v),
				 "counters_available", v->have_counters);

	if (!root)
		return EXIT_KERNEL;
	json_dumpf(root, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(root);
	return 0;
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	struct view v;
	struct err e = { .kind = ERR_KIND_NFT };
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	int r;

	if (argc > 2 || (argc == 2 && !json)) {
		cli_usage_error("status", "usage: acmegate status [--json]");
		return EXIT_USAGE;
	}
	r = cli_load_conf(cli);
	if (r)
		return r;
	r = load_view(&cli->conf, &v, &e);
	if (r < 0)
		return cli_fail(r, &e);
	r = json ? print_json(&v) : (print_text(&v), 0);
	state_free(&v.st);
	ruleset_free(&v.rs);
	return r;
}
