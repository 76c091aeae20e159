/* httpc_mail.c - one mail message over SMTP for email notifications, with
 * the transport of every other outbound call (timeouts, no proxy, the
 * outbound policy on the address connected to). */
#include "httpc/httpc_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct mail_src {
	const char *data;
	size_t len, off;
} mail_src;

static size_t
mail_read(char *ptr, size_t size, size_t n, void *udata)
{
	mail_src *m = udata;
	size_t room = size * n, left = m->len - m->off;
	size_t k = left < room ? left : room;
	memcpy(ptr, m->data + m->off, k);
	m->off += k;
	return k;
}

mz_code
mz_httpc_send_mail(const mz_httpc_mail *m, mz_err *err)
{
	struct curl_slist *rcpt = NULL, *l;
	for (int i = 0; m->to && m->to[i]; i++) {
		char *r = mz_asprintf("<%s>", m->to[i]);
		l = curl_slist_append(rcpt, r);
		free(r);
		if (!l) {
			curl_slist_free_all(rcpt);
			return mz_fail(err, MZ_ENOMEM, "out of memory");
		}
		rcpt = l;
	}
	if (!rcpt)
		return mz_fail(err, MZ_EINVAL, "a mail message without a recipient");
	CURL *h = mz__httpc_easy();
	if (!h) {
		curl_slist_free_all(rcpt);
		return mz_fail(err, MZ_ENOMEM, "cannot create an SMTP client");
	}
	mail_src src = {.data = m->data, .len = m->len};
	char *from = mz_asprintf("<%s>", m->from ? m->from : "");
	char errbuf[CURL_ERROR_SIZE] = "";
	mz__httpc_guard guard = {0};
	mz__httpc_transport(h, &guard, m->timeout_ms, 0, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_URL, m->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	CURLcode cc = curl_easy_perform(h);
	mz_code rc = MZ_OK;
	if (cc != CURLE_OK)
		rc = mz_fail(err, guard.refused ? MZ_EINVAL : MZ_EIO, "SMTP %s: %s", m->url,
		             guard.refused ? guard.why : errbuf[0] ? errbuf : curl_easy_strerror(cc));
	curl_easy_cleanup(h);
	free(from);
	curl_slist_free_all(rcpt);
	return rc;
}
