/* httpc_int.h - shared between the files of src/httpc only. */
#ifndef MZ_HTTPC_INT_H
#define MZ_HTTPC_INT_H

#include "httpc/httpc.h"

#include <curl/curl.h>

/* What the open-socket callback learnt about one transfer. */
typedef struct mz__httpc_guard {
	bool trusted;     /* skip the policy */
	bool refused;     /* a connection was refused by the policy */
	char why[300];    /* the policy's message for the last refusal */
} mz__httpc_guard;

/* The transport settings every transfer gets, HTTP or mail: no signals,
 * timeouts, the allowed protocols (also for redirects), no proxy from the
 * environment (a proxy would connect for us, out of the policy's sight),
 * and the policy check on every socket opened. */
void mz__httpc_transport(CURL *h, mz__httpc_guard *g, long timeout_ms, long connect_ms,
                         const char *protocols);

/* Clamps a caller's timeouts to the always-on defaults and bounds. */
/* curl_easy_init after libcurl's global set-up, made on first use: it
 * loads and initialises the TLS library (about 3 MB of resident pages for
 * OpenSSL), which a server that calls nothing out never needs. */
CURL *mz__httpc_easy(void);
void mz__httpc_timeouts(long timeout_ms, long connect_ms, long *total, long *connect);

#endif
