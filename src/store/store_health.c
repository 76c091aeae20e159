/*
 * store_health.c - is the store writable? A full disk or a database locked
 * by another process makes every write fail until the condition passes;
 * the engine and the pollers back off meanwhile, and /health must say DOWN
 * and why rather than UP. The drivers report failures here; a successful
 * commit, anywhere in the process, clears the state.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool down;
static mz_code down_code;   /* MZ_ENOSPACE or MZ_EBUSY */
static char why[300];
static int64_t next_probe;

void
mz__store_failed(mz_code code, const char *msg)
{
	if (code != MZ_ENOSPACE && code != MZ_EBUSY)
		return;
	pthread_mutex_lock(&mu);
	down = true;
	down_code = code;
	snprintf(why, sizeof(why), "%s: %s", code == MZ_ENOSPACE ? "disk full" : "database locked",
	         msg ? msg : "");
	pthread_mutex_unlock(&mu);
}

/* A lock is gone once a write transaction begins; a full disk once a
 * transaction that changed rows commits (an empty one writes nothing, so
 * it proves nothing). The flag is read without the lock first: the common
 * case costs nothing. */
void
mz__store_began(void)
{
	if (!__atomic_load_n(&down, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&mu);
	if (down_code == MZ_EBUSY)
		down = false;
	pthread_mutex_unlock(&mu);
}

void
mz__store_committed(bool wrote)
{
	if (!wrote || !__atomic_load_n(&down, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&mu);
	down = false;
	pthread_mutex_unlock(&mu);
}

bool
mz_store_writable(char *reason, size_t n)
{
	pthread_mutex_lock(&mu);
	bool ok = !down;
	if (!ok && reason && n)
		snprintf(reason, n, "%s", why);
	pthread_mutex_unlock(&mu);
	return ok;
}

bool
mz_store_probe(mz_store *st, char *reason, size_t n)
{
	if (mz_store_writable(reason, n))
		return true;
	/* Only a full disk is probed: a locked database clears as soon as
	 * anyone begins a transaction, and a probe would wait out the busy
	 * timeout (10 s) in the caller, a /health request. */
	pthread_mutex_lock(&mu);
	int64_t now = mz_mono_ms();
	bool go = now >= next_probe && down_code == MZ_ENOSPACE;
	if (go)
		next_probe = now + 1000;
	pthread_mutex_unlock(&mu);
	if (go && st) {
		mz_err err = {0};
		char stamp[32];
		snprintf(stamp, sizeof(stamp), "%lld", (long long)mz_now_ms());
		if (mz_store_begin(st, &err) == MZ_OK) {
			if (mz_kv_put(st, "health:probe", stamp, &err) == MZ_OK)
				mz_store_commit(st, &err);
			else
				mz_store_rollback(st);
		}
	}
	return mz_store_writable(reason, n);
}
