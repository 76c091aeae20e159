/* api_audit.c - the audit trail: every state-changing request and every
 * request refused with 401 or 403 is stored (the store's audit table, in
 * its own transaction, after the handler: what it records is what the
 * caller was answered; an accepted trigger's row is written by the
 * committer in the transaction that stores its execution, api_launch.c),
 * and GET /audit reads it back, newest first. */
#include "api/api_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
client_address(api_req *r, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	out[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          (socklen_t)outsz);
}

json_t *
api_audit_entry(api_req *r)
{
	bool read = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ||
	            strcmp(r->method, "OPTIONS") == 0;
	if (r->audited || (read && r->status != 401 && r->status != 403))
		return NULL;
	char addr[INET6_ADDRSTRLEN];
	client_address(r, addr, sizeof(addr));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:i}", "time", (json_int_t)mz_now_ms(),
	                 "user", r->id.user[0] ? r->id.user : "anonymous", "address", addr,
	                 "method", r->method, "path", r->path, "application",
	                 r->audit_app[0] ? r->audit_app : NULL, "status", r->status);
}

void
api_audit(api_req *r)
{
	json_t *e = api_audit_entry(r);
	if (!e)
		return;
	mz_store *st = r->st ? r->st : api_store(r);
	mz_err err = {0};
	if (st) {
		mz_store_rollback(st); /* a handler's unfinished transaction is not ours */
		if (mz_audit_add(st, e, &err) != MZ_OK)
			mz_error("audit: cannot record %s %s: %s", r->method, r->path, err.msg);
	}
	json_decref(e);
}

/* GET /audit?application=A&user=U&limit=N: admins see every entry; others
 * the entries of applications they may READ. */
static void
audit_list(api_req *r)
{
	long limit;
	if (!api_query_int(r, "limit", 100, 1, 1000, &limit))
		return;
	const char *app = api_query(r, "application");
	const char *user = api_query(r, "user");
	if (app && !*app)
		app = NULL;
	if (user && !*user)
		user = NULL;
	if (app && !api_allow_app(r, app, MZ_PERM_READ))
		return;
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *all = NULL;
	mz_err err = {0};
	bool filter = !r->id.admin && !app;
	if (mz_audit_list(st, app, user, filter ? 10000 : (int)limit, &all, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	if (!filter) {
		api_reply_json(r, 200, all);
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		const char *a = mz_json_str(e, "application");
		if ((long)json_array_size(out) >= limit)
			break;
		if (a && api_may(r, a, MZ_PERM_READ))
			json_array_append(out, e);
	}
	json_decref(all);
	api_reply_json(r, 200, out);
}

const api_route api_audit_routes[] = {
	{"GET", "/audit", audit_list},
	{NULL, NULL, NULL},
};
