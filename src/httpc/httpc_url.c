/* httpc_url.c - URL helpers over libcurl's URL parser, so that callers
 * build and combine URLs the way the client will read them. */
#include "httpc/httpc_int.h"

#include <stdlib.h>
#include <strings.h>

char *
mz_httpc_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s ? s : "", 0);
	char *out = mz_strdup(e ? e : "");
	curl_free(e);
	return out;
}

char *
mz_httpc_url_resolve(const char *base, const char *ref, bool same_host_keeps_scheme)
{
	CURLU *b = curl_url();
	CURLU *u = curl_url();
	char *bscheme = NULL, *bhost = NULL, *scheme = NULL, *host = NULL, *res = NULL;
	char *out = NULL;

	if (!b || !u || !base || !ref)
		goto done;
	if (curl_url_set(b, CURLUPART_URL, base, 0) || curl_url_set(u, CURLUPART_URL, base, 0) ||
	    curl_url_set(u, CURLUPART_URL, ref, 0))
		goto done;
	if (same_host_keeps_scheme && !curl_url_get(b, CURLUPART_SCHEME, &bscheme, 0) &&
	    !curl_url_get(b, CURLUPART_HOST, &bhost, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) && strcasecmp(bhost, host) == 0 &&
	    strcasecmp(bscheme, scheme) != 0)
		curl_url_set(u, CURLUPART_SCHEME, bscheme, 0);
	if (!curl_url_get(u, CURLUPART_URL, &res, 0))
		out = mz_strdup(res);
done:
	curl_free(bscheme);
	curl_free(bhost);
	curl_free(scheme);
	curl_free(host);
	curl_free(res);
	curl_url_cleanup(b);
	curl_url_cleanup(u);
	return out;
}
