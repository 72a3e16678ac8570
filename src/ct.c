/* ct.c: deletes conntrack entries through ctnetlink (libmnl) when a window closes; needs
 * CAP_NET_ADMIN; called by window.c after a batch that closed a service. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "ct.h"

#define CT_MAX 65536   /* entries one close forgets at most */

struct victim {
	uint8_t family;
	char tuple[128];   /* the CTA_TUPLE_ORIG attribute as the dump gave it */
	uint16_t tuple_len;
	uint16_t zone;     /* network order, as dumped; 0 = none */
	int has_zone;
};

struct ct_ctx {
	const struct opening *ports;
	size_t nports;
	struct ifaddrs *local;
	struct victim *v;
	size_t nv, cap;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, CTA_MAX) >= 0 && type <= CTA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static void nested(const struct nlattr *attr, const struct nlattr **tb)
{
	if (attr)
		mnl_attr_parse_nested(attr, attr_cb, tb);
}

static bool is_local(const struct ct_ctx *c, int family, const void *addr)
{
	for (const struct ifaddrs *i = c->local; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || sa->sa_family != family)
			continue;
		if (family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)sa)->sin_addr, addr, 4))
			return true;
		if (family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, addr, 16))
			return true;
	}
	return false;
}

/* Whether the original tuple goes to one of our ports on one of this host's addresses. */
static bool wanted(const struct ct_ctx *c, const struct nlattr *orig)
{
	const struct nlattr *t[CTA_MAX + 1] = { 0 }, *ip[CTA_MAX + 1] = { 0 }, *pr[CTA_MAX + 1] = { 0 };
	uint8_t proto;
	uint16_t port;

	nested(orig, t);
	nested(t[CTA_TUPLE_IP], ip);
	nested(t[CTA_TUPLE_PROTO], pr);
	if (!pr[CTA_PROTO_NUM] || !pr[CTA_PROTO_DST_PORT])
		return false;
	proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	port = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]));
	if (!(ip[CTA_IP_V4_DST] && is_local(c, AF_INET, mnl_attr_get_payload(ip[CTA_IP_V4_DST]))) &&
	    !(ip[CTA_IP_V6_DST] && is_local(c, AF_INET6, mnl_attr_get_payload(ip[CTA_IP_V6_DST]))))
		return false;
	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i].l4proto == proto && c->ports[i].port == port)
			return true;
	return false;
}

static int entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_ctx *c = data;
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct victim *v;
	uint16_t len;

	mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, tb);
	if (!tb[CTA_TUPLE_ORIG] || !wanted(c, tb[CTA_TUPLE_ORIG]) || c->nv >= CT_MAX)
		return MNL_CB_OK;
	len = tb[CTA_TUPLE_ORIG]->nla_len;
	if (len > sizeof(v->tuple))
		return MNL_CB_OK;
	if (array_grow((void **)&c->v, &c->cap, c->nv, sizeof(*c->v)) < 0)
		return MNL_CB_ERROR;
	v = &c->v[c->nv++];
	memset(v, 0, sizeof(*v));
	v->family = nfg->nfgen_family;
	memcpy(v->tuple, tb[CTA_TUPLE_ORIG], len);
	v->tuple_len = len;
	if (tb[CTA_ZONE]) {
		v->zone = mnl_attr_get_u16(tb[CTA_ZONE]);
		v->has_zone = 1;
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_header(char *buf, uint16_t msg, uint16_t flags, uint8_t family,
				  uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	uint32_t portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		r = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)r, seq, portid, cb, data);
		if (r <= MNL_CB_STOP)
			return r < 0 ? -errno : 0;
	}
}

/* A deletion by original tuple (and zone); ENOENT: it ended meanwhile. */
static int forget_one(struct mnl_socket *nl, const struct victim *v, uint32_t seq)
{
	char buf[512];
	struct nlmsghdr *nlh = ct_header(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, v->family, seq);
	int r;

	memcpy(mnl_nlmsg_get_payload_tail(nlh), v->tuple, v->tuple_len);
	nlh->nlmsg_len += MNL_ALIGN(v->tuple_len);
	if (v->has_zone)
		mnl_attr_put_u16(nlh, CTA_ZONE, v->zone);
	r = talk(nl, nlh, NULL, NULL);
	return r == -ENOENT ? 0 : r;
}

static int dump_and_forget(struct nft *nft, struct ct_ctx *c, struct err *e)
{
	struct mnl_socket *nl = nft_socket(nft);
	char buf[64];
	int r = talk(nl, ct_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC, nft_next_seq(nft)),
		     entry_cb, c);
	size_t done = 0;

	/* no conntrack in this namespace: nothing to forget */
	if (r == -ENOENT || r == -EOPNOTSUPP || r == -EPROTONOSUPPORT)
		return 0;
	if (r < 0)
		return err_set(e, r, "conntrack: cannot list connections: %s", strerror(-r));
	for (size_t i = 0; i < c->nv; i++) {
		r = forget_one(nl, &c->v[i], nft_next_seq(nft));
		if (r < 0)
			return err_set(e, r, "conntrack: cannot delete a connection: %s", strerror(-r));
		done++;
	}
	return (int)done;
}

/* How many connections this namespace tracks; 0 when conntrack is not even loaded. */
static unsigned long tracked(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "re");
	unsigned long count = 0;

	if (f) {
		if (fscanf(f, "%lu", &count) != 1)
			count = 1;  /* unreadable: look anyway */
		fclose(f);
	}
	return count;
}

int ct_forget(struct nft *nft, const struct opening *ports, size_t n, struct err *e)
{
	struct ct_ctx c = { .ports = ports, .nports = n };
	int r;

	/* A dump walks the kernel's whole conntrack hash (about 10 ms here), whatever it holds:
	 * skip it when nothing is tracked. */
	if (n == 0 || tracked() == 0)
		return 0;
	if (getifaddrs(&c.local) < 0)
		return err_set(e, -errno, "conntrack: cannot list local addresses: %s", strerror(errno));
	r = dump_and_forget(nft, &c, e);
	freeifaddrs(c.local);
	free(c.v);
	return r;
}
