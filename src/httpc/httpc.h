/*
 * httpc.h - mizzen's one outbound HTTP client (libcurl).
 *
 * Every call the server makes to somewhere else goes through here: webhook
 * stages, artifact downloads, notifications (webhook, Slack and SMTP mail),
 * the registry and Jenkins pollers and the jenkins stage, the local cloud's
 * health checks; the CLI uses it too (without the policy). One place means
 * one set of limits that are always on:
 *
 *   - a total timeout (default 30 s) and a connect timeout (default 5 s);
 *   - a cap on the response body (default 1 MiB) and on its headers (64 KiB);
 *   - http and https only, no proxies from the environment, redirects only
 *     when asked for (at most 5, http/https only);
 *   - the OUTBOUND POLICY (DESIGN.md, "outbound calls"): a connection to a
 *     link-local address (169.254.0.0/16, fe80::/10: cloud metadata
 *     services) or to the server's own listen address is refused unless the
 *     config's "outbound": {"allow": [CIDR, ...]} lists it. The check runs on
 *     the address each connection is actually opened to (libcurl's
 *     open-socket callback), after DNS and for every redirect, so neither a
 *     hostname that resolves to a metadata address nor a redirect to one
 *     gets through.
 *
 * Depends on src/core only. Thread-safe: each call has its own curl handle
 * unless the caller passes a session (one thread at a time per session).
 */
#ifndef MZ_HTTPC_H
#define MZ_HTTPC_H

#include "core/core.h"

#include <stdio.h>

#define MZ_HTTPC_DEFAULT_TIMEOUT_MS 30000L
#define MZ_HTTPC_DEFAULT_CONNECT_MS 5000L
#define MZ_HTTPC_MAX_TIMEOUT_MS (3600L * 1000)
#define MZ_HTTPC_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define MZ_HTTPC_MAX_HEADER_BYTES ((size_t)64 << 10)
#define MZ_HTTPC_MAX_REDIRECTS 5L

/* ---- start-up ------------------------------------------------------------ */

/* libcurl's global initialisation; call once from main() before any thread
 * starts (it is not thread-safe). Later calls are cheap no-ops. */
mz_code mz_httpc_global_init(mz_err *err);

/* Sets the outbound policy: the server's own listen address (host as given
 * to --listen, a name, an address or a wildcard such as 0.0.0.0; port the
 * bound port) and the config's outbound.allow (a JSON array of CIDRs such
 * as "169.254.169.254/32" or "fd00::/8"; a bare address means that one
 * address; NULL or empty: nothing extra allowed). Replaces an earlier
 * policy; link-local addresses are refused even before this is called.
 * MZ_EINVAL, naming the bad entry, when allow is malformed. */
mz_code mz_httpc_set_policy(const char *listen_host, int listen_port, const json_t *allow,
                            mz_err *err);

/* Checks one destination (a struct sockaddr of AF_INET or AF_INET6) against
 * the policy: true when allowed; else false with why filled with a message
 * naming the policy and the setting that allows it. */
struct sockaddr;
bool mz_httpc_policy_allows(const struct sockaddr *sa, char *why, size_t cap);

/* ---- one request --------------------------------------------------------- */

/* Why a call failed. The first group never sent anything, so a retry cannot
 * repeat an effect; after TIMEOUT or TRANSPORT the far side may have acted. */
typedef enum mz_httpc_fail {
	MZ_HTTPC_OK = 0,
	MZ_HTTPC_BAD_REQUEST, /* not an http(s) URL, a bad header...: nothing sent */
	MZ_HTTPC_POLICY,      /* refused by the outbound policy: nothing sent */
	MZ_HTTPC_RESOLVE,     /* the host name did not resolve: nothing sent */
	MZ_HTTPC_CONNECT,     /* no connection (refused, unreachable, timed out) */
	MZ_HTTPC_TIMEOUT,     /* the exchange took longer than timeout_ms */
	MZ_HTTPC_TRANSPORT,   /* the connection failed after it was made */
	MZ_HTTPC_TOO_LARGE,   /* the response passed max_body or the header cap */
	MZ_HTTPC_SINK,        /* the sink file could not be written */
	MZ_HTTPC_OTHER,
} mz_httpc_fail;

typedef struct mz_httpc_session mz_httpc_session;

typedef struct mz_httpc_req {
	const char *method;          /* upper case; NULL: GET. HEAD sends no body */
	const char *url;             /* http:// or https:// */
	const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL;
	                                "Name:" removes a header curl would add */
	const char *body;            /* NULL: none (POST, PUT, PATCH send an empty one) */
	size_t body_len;
	const char *idempotency_key; /* sent as Idempotency-Key when set */
	long timeout_ms;             /* whole exchange; <= 0: 30 s; at most 1 h */
	long connect_timeout_ms;     /* DNS + connect; <= 0: 5 s (never above timeout) */
	size_t max_body;             /* response body cap; 0: 1 MiB */
	bool follow_redirects;       /* follow up to 5, each checked by the policy */
	const char *user_agent;      /* NULL: "mizzen" */
	FILE *sink;                  /* non-NULL: the body is written here, not kept */
	/* The destination was chosen by mizzen itself, not by a user (the CLI
	 * talking to its server, a health check of an instance the local cloud
	 * started on a loopback port): the policy is not applied. */
	bool trusted;
	mz_httpc_session *session;   /* reuse this session's connections (trusted only) */
} mz_httpc_req;

typedef struct mz_httpc_resp {
	long status;           /* the final response's status; 0 when there was none
	                          (kept with TOO_LARGE: a response did come) */
	json_t *headers;       /* {name as received: [values]} of the final response */
	mz_buf body;           /* capped at max_body; empty when written to a sink */
	uint64_t body_bytes;   /* bytes of body received (also with a sink) */
	mz_httpc_fail fail;
	char error[400];       /* on failure: what went wrong (never a header value) */
} mz_httpc_resp;

/* Performs the request. MZ_OK when an HTTP response arrived (any status:
 * check rs->status); otherwise rs->fail and rs->error say why and err gets
 * the same message (MZ_EINVAL for BAD_REQUEST and POLICY, MZ_ETIMEOUT for
 * TIMEOUT, else MZ_EIO). Always release rs afterwards. */
mz_code mz_httpc_do(const mz_httpc_req *rq, mz_httpc_resp *rs, mz_err *err);
void mz_httpc_resp_release(mz_httpc_resp *rs);

/* GET url (Accept: application/json, default caps, timeout_ms) and parse
 * the answer: a new reference when the status is 200 and the body is JSON;
 * else NULL with *status (the HTTP status, 0 when none came) and err set. */
json_t *mz_httpc_get_json(const char *url, long timeout_ms, long *status, mz_err *err);

/* First value of a response header, by case-insensitive name (borrowed). */
const char *mz_httpc_header(const mz_httpc_resp *rs, const char *name);

/* Whether name is a valid header name (an RFC 9110 token). */
bool mz_httpc_header_name_ok(const char *name);

/* The body as JSON: parsed when the Content-Type says JSON or it looks
 * like an object or array, else a string (bytes that are not UTF-8 become
 * '?'); JSON null when empty. New reference. */
json_t *mz_httpc_body_json(const mz_httpc_resp *rs);

/* The first at most `max` bytes of the body as text for a message, "..."
 * appended when cut. */
void mz_httpc_body_excerpt(const mz_httpc_resp *rs, size_t max, char *out, size_t cap);

/* Whether the failure happened before any byte of the request could have
 * reached the far side (BAD_REQUEST, POLICY, RESOLVE, CONNECT). */
bool mz_httpc_unsent(const mz_httpc_resp *rs);

/* A session keeps one connection open across calls to the same server (the
 * CLI's polling). Only for trusted requests. */
mz_httpc_session *mz_httpc_session_new(void);
void mz_httpc_session_free(mz_httpc_session *s);

/* ---- URLs ---------------------------------------------------------------- */

/* s percent-encoded for use as one path segment or query value (malloc'd). */
char *mz_httpc_escape(const char *s);

/* ref resolved against base (relative references work). With
 * same_host_keeps_scheme, when both name the same host with different
 * schemes base's scheme wins (Orca's rule for status URLs: services behind
 * a TLS proxy often report http:// URLs). malloc'd, or NULL if either is
 * not a valid URL. */
char *mz_httpc_url_resolve(const char *base, const char *ref, bool same_host_keeps_scheme);

/* ---- mail ---------------------------------------------------------------- */

/* One message over SMTP (smtp:// or smtps://), under the same timeouts and
 * outbound policy. data is the whole message with CRLF line ends. */
typedef struct mz_httpc_mail {
	const char *url;            /* smtp://host:port */
	const char *from;           /* bare address */
	const char *const *to;      /* NULL-terminated bare addresses */
	const char *data;
	size_t len;
	long timeout_ms;            /* <= 0: 30 s */
} mz_httpc_mail;

mz_code mz_httpc_send_mail(const mz_httpc_mail *m, mz_err *err);

#endif
