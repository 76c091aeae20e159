/*
 * httpc_policy.c - the outbound policy of DESIGN.md ("outbound calls").
 *
 * A pipeline author chooses the URLs of webhook stages, artifacts and
 * notifications, so without a policy a pipeline could read a cloud
 * metadata service (credentials of the machine) or call the server's own
 * API from inside it. Refused unless "outbound": {"allow": [CIDR, ...]}
 * lists the address:
 *   - link-local addresses, 169.254.0.0/16 and fe80::/10, where metadata
 *     services live (169.254.169.254; also fd00:ec2::254, AWS's IPv6 one);
 *   - the server's own listen address (address and port), including, when
 *     it listens on a wildcard, every local address on that port.
 * The check is on the socket address libcurl is about to connect to, so it
 * sees the result of DNS and every redirect. IPv4-mapped IPv6 addresses are
 * checked as the IPv4 address they carry; 0.0.0.0 and :: reach this host,
 * so they count as loopback.
 */
#include "httpc/httpc_int.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_ALLOW 64
#define MAX_LISTEN 8

/* An address in network order, IPv4 as the last 4 of 16 bytes' v4 form. */
typedef struct addr16 {
	int family; /* AF_INET or AF_INET6 */
	unsigned char b[16];
} addr16;

typedef struct cidr {
	addr16 a;
	int bits;
} cidr;

static pthread_rwlock_t pol_lock = PTHREAD_RWLOCK_INITIALIZER;
static cidr pol_allow[MAX_ALLOW];
static int pol_nallow;
static addr16 pol_listen[MAX_LISTEN];
static int pol_nlisten;
static bool pol_listen_any; /* listening on 0.0.0.0 or :: */
static int pol_port;        /* 0: no own address known */

static const cidr link_local[] = {
	{{AF_INET, {169, 254}}, 16},
	{{AF_INET6, {0xfe, 0x80}}, 10},
	{{AF_INET6, {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}}, 128},
};

/* From a sockaddr; IPv4-mapped IPv6 becomes IPv4. False for other families. */
static bool
from_sockaddr(const struct sockaddr *sa, addr16 *a, int *port)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		memcpy(a->b, &s4->sin_addr, 4);
		if (port)
			*port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = AF_INET;
			memcpy(a->b, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->b, s6->sin6_addr.s6_addr, 16);
		}
		if (port)
			*port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

static bool
in_cidr(const addr16 *a, const cidr *c)
{
	if (a->family != c->a.family)
		return false;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(a->b, c->a.b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & mask) == (c->a.b[full] & mask);
}

static bool
is_unspecified(const addr16 *a)
{
	static const unsigned char zero[16];
	return memcmp(a->b, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static bool
is_loopback(const addr16 *a)
{
	static const unsigned char one6[16] = {[15] = 1};
	return a->family == AF_INET ? a->b[0] == 127 : memcmp(a->b, one6, 16) == 0;
}

/* 0.0.0.0 and :: reach this host: compare them as loopback. */
static addr16
effective(const addr16 *a)
{
	addr16 e = *a;
	if (is_unspecified(a)) {
		memset(e.b, 0, sizeof(e.b));
		if (a->family == AF_INET) {
			e.b[0] = 127;
			e.b[3] = 1;
		} else {
			e.b[15] = 1;
		}
	}
	return e;
}

static bool
same_addr(const addr16 *x, const addr16 *y)
{
	return x->family == y->family && memcmp(x->b, y->b, x->family == AF_INET ? 4 : 16) == 0;
}

/* Whether a is an address of one of this host's interfaces. */
static bool
is_local_interface(const addr16 *a)
{
	struct ifaddrs *list = NULL, *i;
	bool found = false;
	if (getifaddrs(&list) != 0)
		return false;
	for (i = list; i && !found; i = i->ifa_next) {
		addr16 ia;
		if (i->ifa_addr && from_sockaddr(i->ifa_addr, &ia, NULL))
			found = same_addr(&ia, a);
	}
	freeifaddrs(list);
	return found;
}

static void
format_addr(const addr16 *a, char *out, size_t cap)
{
	if (!inet_ntop(a->family, a->b, out, (socklen_t)cap))
		snprintf(out, cap, "(unprintable address)");
}

bool
mz_httpc_policy_allows(const struct sockaddr *sa, char *why, size_t cap)
{
	addr16 a;
	int port = 0;
	char text[INET6_ADDRSTRLEN];
	if (!from_sockaddr(sa, &a, &port))
		return true; /* not an IP socket: curl only opens those for http */
	addr16 e = effective(&a);
	bool refused_ll = false, refused_own = false;

	pthread_rwlock_rdlock(&pol_lock);
	for (int i = 0; i < pol_nallow; i++) {
		if (in_cidr(&a, &pol_allow[i]) || in_cidr(&e, &pol_allow[i])) {
			pthread_rwlock_unlock(&pol_lock);
			return true;
		}
	}
	for (size_t i = 0; i < sizeof(link_local) / sizeof(link_local[0]); i++)
		refused_ll = refused_ll || in_cidr(&a, &link_local[i]);
	if (!refused_ll && pol_port && port == pol_port) {
		for (int i = 0; i < pol_nlisten && !refused_own; i++)
			refused_own = same_addr(&e, &pol_listen[i]);
		if (!refused_own && pol_listen_any)
			refused_own = is_loopback(&e) || is_local_interface(&e);
	}
	pthread_rwlock_unlock(&pol_lock);

	if (!refused_ll && !refused_own)
		return true;
	format_addr(&a, text, sizeof(text));
	if (refused_ll)
		snprintf(why, cap,
		         "refused by the outbound policy: %s is a link-local address (where cloud "
		         "metadata services answer); to allow it, list it in the config's "
		         "\"outbound\": {\"allow\": [\"%s/%d\"]}",
		         text, text, a.family == AF_INET ? 32 : 128);
	else
		snprintf(why, cap,
		         "refused by the outbound policy: %s port %d is this server's own listen "
		         "address; to allow it, list it in the config's \"outbound\": {\"allow\": "
		         "[\"%s/%d\"]}",
		         text, port, text, a.family == AF_INET ? 32 : 128);
	return false;
}

/* "10.0.0.0/8", "fe80::/10", or a bare address (/32 or /128). */
static bool
parse_cidr(const char *s, cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->a.b) == 1)
		out->a.family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->a.b) == 1)
		out->a.family = AF_INET6;
	else
		return false;
	int max = out->a.family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash) {
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || bits < 0 || bits > max)
			return false;
		out->bits = (int)bits;
	}
	if (out->a.family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)out->a.b) &&
	    out->bits >= 96) {
		/* ::ffff:a.b.c.d/n is the IPv4 range it maps */
		memmove(out->a.b, out->a.b + 12, 4);
		memset(out->a.b + 4, 0, 12);
		out->a.family = AF_INET;
		out->bits -= 96;
	}
	return true;
}

mz_code
mz_httpc_set_policy(const char *listen_host, int listen_port, const json_t *allow,
                    mz_err *err)
{
	cidr list[MAX_ALLOW];
	addr16 own[MAX_LISTEN];
	int nallow = 0, nown = 0;
	bool any = false;

	if (allow && !json_is_null(allow) && !json_is_array(allow))
		return mz_fail(err, MZ_EINVAL, "outbound.allow must be a list of CIDRs such as "
		               "[\"169.254.169.254/32\"]");
	size_t i;
	json_t *v;
	json_array_foreach(allow, i, v) {
		const char *s = json_string_value(v);
		if (nallow == MAX_ALLOW)
			return mz_fail(err, MZ_EINVAL, "outbound.allow has more than %d entries",
			               MAX_ALLOW);
		if (!s || !parse_cidr(s, &list[nallow]))
			return mz_fail(err, MZ_EINVAL, "outbound.allow[%zu] is not an address or CIDR "
			               "such as \"169.254.169.254/32\" or \"fd00::/8\"", i);
		nallow++;
	}

	/* The listen host as given to --listen: a wildcard, an address or a
	 * name (resolved once here, as the server did when it bound). */
	if (listen_host && *listen_host) {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		if (getaddrinfo(listen_host, NULL, &hints, &res) == 0) {
			for (struct addrinfo *ai = res; ai && nown < MAX_LISTEN; ai = ai->ai_next) {
				addr16 a;
				if (!from_sockaddr(ai->ai_addr, &a, NULL))
					continue;
				if (is_unspecified(&a))
					any = true;
				else
					own[nown++] = a;
			}
			freeaddrinfo(res);
		}
	} else {
		any = true; /* no host: MHD binds every address */
	}

	pthread_rwlock_wrlock(&pol_lock);
	memcpy(pol_allow, list, sizeof(cidr) * (size_t)nallow);
	pol_nallow = nallow;
	memcpy(pol_listen, own, sizeof(addr16) * (size_t)nown);
	pol_nlisten = nown;
	pol_listen_any = any;
	pol_port = listen_port > 0 ? listen_port : 0;
	pthread_rwlock_unlock(&pol_lock);
	return MZ_OK;
}
