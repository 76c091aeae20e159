/* http.c - a small libcurl client for the events and pollers components:
 * notifications, registry and Jenkins polling. http/https only, no
 * redirects, bounded bodies; each call has its own easy handle. */
#include "events/events.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_BODY (4u << 20)

static size_t
on_body(char *data, size_t size, size_t n, void *udata)
{
	mz_http_result *res = udata;
	if (mz_buf_add(&res->body, data, size * n) != MZ_OK)
		return 0;
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *udata)
{
	mz_http_result *res = udata;
	size_t len = size * n;
	if (len > 9 && strncasecmp(data, "Location:", 9) == 0) {
		const char *v = data + 9;
		size_t vl = len - 9;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		free(res->location);
		res->location = strndup(v, vl);
	}
	return len;
}

mz_code
mz_http(const char *method, const char *url, const char *const *headers, const char *body,
        size_t len, long timeout_ms, mz_http_result *res, mz_err *err)
{
	memset(res, 0, sizeof(*res));
	mz_buf_init(&res->body, HTTP_MAX_BODY);
	if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
		return mz_fail(err, MZ_EINVAL, "not an http(s) URL: %s", url ? url : "(none)");
	CURL *h = curl_easy_init();
	if (!h)
		return mz_fail(err, MZ_ENOMEM, "cannot create an HTTP client");
	struct curl_slist *list = NULL;
	for (int i = 0; headers && headers[i]; i++)
		list = curl_slist_append(list, headers[i]);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mizzen");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, res);
	if (!method || strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	}
	CURLcode cc = curl_easy_perform(h);
	mz_code rc = MZ_OK;
	if (cc != CURLE_OK) {
		res->status = 0;
		rc = mz_fail(err, MZ_EIO, "%s %s: %s", method ? method : "GET", url,
		             errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	}
	curl_slist_free_all(list);
	curl_easy_cleanup(h);
	return rc;
}

void
mz_http_result_release(mz_http_result *res)
{
	mz_buf_release(&res->body);
	free(res->location);
	res->location = NULL;
}
