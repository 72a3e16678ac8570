/* dnswire.c: one non-recursive TXT query straight to an authoritative server (UDP, TCP when
 * truncated), and the DNS wire format it needs. No privilege; called by dns01.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/random.h>
#include "probe/probe_int.h"

#define MSG_MAX 65535
#define T_TXT 16

static const char *const rcodes[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

/* Writes name (dotted, "." for the root) as wire labels; length or -EINVAL. */
static int put_name(const char *name, unsigned char *p, size_t len)
{
	size_t o = 0;

	while (*name && strcmp(name, ".") != 0) {
		size_t l = strcspn(name, ".");

		if (l == 0 || l > 63 || o + l + 2 > len)
			return -EINVAL;
		p[o++] = (unsigned char)l;
		memcpy(p + o, name, l);
		o += l;
		name += l + (name[l] == '.');
	}
	if (o + 1 > len)
		return -EINVAL;
	p[o++] = 0;
	return (int)o;
}

/* A query without recursion desired: the server must answer from its own zone. */
static int build_query(const char *qname, uint16_t id, unsigned char *q, size_t len)
{
	int n;

	if (len < 12 + 4)
		return -EINVAL;
	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[5] = 1;  /* QDCOUNT; flags 0: opcode QUERY, RD=0 */
	n = put_name(qname, q + 12, len - 12 - 4);
	if (n < 0)
		return n;
	q[12 + n] = 0;
	q[13 + n] = T_TXT;
	q[14 + n] = 0;
	q[15 + n] = 1;  /* class IN */
	return 16 + n;
}

/* Reads the (possibly compressed) name at *off into out (dotted, no final dot); -EBADMSG. */
int dnswire_name(const unsigned char *m, size_t len, size_t *off, char *out, size_t outlen)
{
	size_t p = *off, o = 0;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		if (p >= len)
			return -EBADMSG;
		unsigned c = m[p];

		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > 32)
				return -EBADMSG;
			if (!jumped)
				*off = p + 2;
			jumped = true;
			p = ((c & 0x3f) << 8) | m[p + 1];
			continue;
		}
		if (c == 0)
			break;
		if (c > 63 || p + 1 + c > len || o + c + 2 > outlen)
			return -EBADMSG;
		if (o)
			out[o++] = '.';
		memcpy(out + o, m + p + 1, c);
		o += c;
		p += 1 + c;
	}
	if (!jumped)
		*off = p + 1;
	out[o] = '\0';
	return 0;
}

/* TXT rdata: its strings joined; bytes outside printable ASCII become '?'. */
int txt_rdata(const unsigned char *rd, size_t len, char **ret)
{
	char *s = malloc(len + 1);
	size_t o = 0;

	if (!s)
		return -ENOMEM;
	for (size_t p = 0; p < len;) {
		size_t l = rd[p++];

		for (size_t i = 0; i < l && p < len; i++, p++)
			s[o++] = rd[p] >= 0x20 && rd[p] < 0x7f ? (char)rd[p] : '?';
	}
	s[o] = '\0';
	*ret = s;
	return 0;
}

void txt_answer_free(struct txt_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->values[i]);
	free(a->values);
	a->values = NULL;
	a->n = 0;
}

static int add_value(struct txt_answer *a, const unsigned char *rd, size_t len)
{
	char **v = realloc(a->values, (a->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	a->values = v;
	return txt_rdata(rd, len, &v[a->n]) < 0 ? -ENOMEM : (a->n++, 0);
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The TXT records owned by qname in an answer. */
static int parse_answer(const unsigned char *m, size_t len, const char *qname, struct txt_answer *a)
{
	char owner[256];
	size_t off = 12;
	unsigned qd = get16(m + 4), an = get16(m + 6);

	for (unsigned i = 0; i < qd; i++) {
		if (dnswire_name(m, len, &off, owner, sizeof(owner)) < 0 || off + 4 > len)
			return -EBADMSG;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		if (dnswire_name(m, len, &off, owner, sizeof(owner)) < 0 || off + 10 > len)
			return -EBADMSG;
		size_t rdlen = get16(m + off + 8);
		bool mine = get16(m + off) == T_TXT && strcasecmp(owner, qname) == 0;

		off += 10;
		if (off + rdlen > len)
			return -EBADMSG;
		if (mine && add_value(a, m + off, rdlen) < 0)
			return -ENOMEM;
		off += rdlen;
	}
	return 0;
}

/* One UDP exchange: the reply's length, or -ETIMEDOUT, -ECONNREFUSED (ICMP), ... */
static ssize_t exchange_udp(const struct sockaddr_storage *srv, const unsigned char *q, size_t qlen,
			    unsigned char *m, size_t mlen, int timeout_ms)
{
	int fd = addr_dial(srv, SOCK_DGRAM, timeout_ms);
	ssize_t n = -ETIMEDOUT;

	if (fd < 0)
		return fd;
	if (send(fd, q, qlen, 0) < 0) {
		n = -errno;
		goto out;
	}
	/* a stray datagram (another id) is skipped, a few times at most */
	for (int tries = 0; tries < 8; tries++) {
		n = recv(fd, m, mlen, 0);
		if (n < 0) {
			n = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		if (n >= 12 && get16(m) == get16(q) && (m[2] & 0x80))
			break;
		n = -ETIMEDOUT;
	}
out:
	close(fd);
	return n;
}

/* The same question over TCP (RFC 1035 4.2.2: two length bytes first). */
static ssize_t exchange_tcp(const struct sockaddr_storage *srv, const unsigned char *q, size_t qlen,
			    unsigned char *m, size_t mlen, int timeout_ms)
{
	unsigned char lenbuf[2] = { (unsigned char)(qlen >> 8), (unsigned char)qlen };
	int fd = addr_dial(srv, SOCK_STREAM, timeout_ms);
	ssize_t n;

	if (fd < 0)
		return fd;
	if (send(fd, lenbuf, 2, MSG_MORE | MSG_NOSIGNAL) != 2 || send(fd, q, qlen, MSG_NOSIGNAL) != (ssize_t)qlen ||
	    recv(fd, lenbuf, 2, MSG_WAITALL) != 2) {
		n = errno == EAGAIN || errno == EWOULDBLOCK || errno == 0 ? -ETIMEDOUT : -errno;
	} else {
		size_t want = get16(lenbuf);

		n = want <= mlen && recv(fd, m, want, MSG_WAITALL) == (ssize_t)want ? (ssize_t)want : -ETIMEDOUT;
	}
	close(fd);
	return n;
}

static const char *exchange_failure(ssize_t err, const char *addr, char *detail, size_t len)
{
	switch (-err) {
	case ETIMEDOUT:
		snprintf(detail, len, "%s: query timed out (likely firewall problem)", addr);
		return "dropped";
	case ECONNREFUSED:
		snprintf(detail, len, "%s: Connection refused (nothing listens on port 53)", addr);
		return "refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
		snprintf(detail, len, "%s: %s", addr, strerror((int)-err));
		return "unreachable";
	default:
		snprintf(detail, len, "%s: query failed: %s", addr, strerror((int)-err));
		return "dns";
	}
}

/* Judges the reply's header; NULL when its answer section can be read. */
static const char *reply_failure(const unsigned char *m, const char *addr, const char *qname,
				 char *detail, size_t len)
{
	int rcode = m[3] & 0x0f;

	if (rcode == 3) {
		snprintf(detail, len, "%s: NXDOMAIN for %s", addr, qname);
		return "missing";
	}
	if (rcode == 5) {
		snprintf(detail, len, "%s: REFUSED for %s (the server does not serve this zone to us)", addr, qname);
		return "refused";
	}
	if (rcode != 0) {
		snprintf(detail, len, "%s: %s for %s", addr, rcode < 6 ? rcodes[rcode] : "rcode error", qname);
		return "dns";
	}
	return NULL;
}

const char *dnswire_txt(const struct sockaddr_storage *server, const char *qname, int timeout_ms,
			struct txt_answer *ret, char *detail, size_t len)
{
	unsigned char q[300], *m = malloc(MSG_MAX);
	char addr[INET6_ADDRSTRLEN];
	uint16_t id = 0;
	const char *cls = NULL;
	ssize_t n;
	int qlen = build_query(qname, id, q, sizeof(q));

	memset(ret, 0, sizeof(*ret));
	addr_str((const struct sockaddr *)server, addr, sizeof(addr));
	if (!m || qlen < 0) {
		snprintf(detail, len, "%s: %s", addr, m ? "the name does not fit a query" : strerror(ENOMEM));
		free(m);
		return "internal";
	}
	if (getrandom(&id, sizeof(id), 0) == sizeof(id)) {
		q[0] = (unsigned char)(id >> 8);
		q[1] = (unsigned char)id;
	}
	n = exchange_udp(server, q, (size_t)qlen, m, MSG_MAX, timeout_ms);
	if (n >= 12 && (m[2] & 0x02))
		n = exchange_tcp(server, q, (size_t)qlen, m, MSG_MAX, timeout_ms);
	if (n < 12)
		cls = exchange_failure(n < 0 ? n : -EBADMSG, addr, detail, len);
	else if (!(cls = reply_failure(m, addr, qname, detail, len))) {
		ret->rcode = m[3] & 0x0f;
		if (parse_answer(m, (size_t)n, qname, ret) < 0) {
			snprintf(detail, len, "%s: a malformed answer", addr);
			cls = "dns";
		} else if (ret->n == 0 && !(m[2] & 0x04)) {
			snprintf(detail, len, "%s: not authoritative for %s (no AA bit)", addr, qname);
			cls = "dns";
		}
	}
	if (cls)
		txt_answer_free(ret);
	free(m);
	return cls;
}
