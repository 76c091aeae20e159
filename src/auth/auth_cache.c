/* auth_cache.c - verified credentials kept in memory, so that a request
 * carrying a token, a session cookie or Basic credentials costs one keyed
 * BLAKE2b digest and a mutex instead of a store read or an Argon2 run.
 *
 * Only credentials that verified are cached (a flood of wrong ones cannot
 * push good ones out), and the key is a digest under a per-process random
 * key, so the table never holds a password or a token. */
#include "auth/auth_int.h"

#include <string.h>

void
mz__auth_cache_key(mz_auth *a, char kind, const char *p1, const char *p2,
                   unsigned char out[32])
{
	crypto_generichash_state s;
	crypto_generichash_init(&s, a->cache_secret, sizeof(a->cache_secret), 32);
	crypto_generichash_update(&s, (const unsigned char *)&kind, 1);
	crypto_generichash_update(&s, (const unsigned char *)p1, strlen(p1) + 1);
	if (p2)
		crypto_generichash_update(&s, (const unsigned char *)p2, strlen(p2) + 1);
	crypto_generichash_final(&s, out, 32);
}

static auth_entry *
set_of(mz_auth *a, const unsigned char key[32])
{
	unsigned idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % AUTH_CACHE_SETS;
	return a->cache[idx];
}

bool
mz__auth_cache_get(mz_auth *a, const unsigned char key[32], auth_entry *out, bool *fresh)
{
	int64_t now = mz_mono_ms();
	bool found = false;
	pthread_mutex_lock(&a->lock);
	auth_entry *set = set_of(a, key);
	for (int i = 0; i < AUTH_CACHE_WAYS; i++) {
		if (set[i].used && sodium_memcmp(set[i].key, key, 32) == 0) {
			set[i].touched_ms = now;
			*out = set[i];
			*fresh = now - set[i].checked_ms < MZ_AUTH_RECHECK_MS;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

void
mz__auth_cache_put(mz_auth *a, const unsigned char key[32], const mz_identity *id,
                   const unsigned char pwtag[16])
{
	int64_t now = mz_mono_ms();
	pthread_mutex_lock(&a->lock);
	auth_entry *set = set_of(a, key);
	auth_entry *slot = NULL;
	for (int i = 0; i < AUTH_CACHE_WAYS && !slot; i++)
		if (set[i].used && sodium_memcmp(set[i].key, key, 32) == 0)
			slot = &set[i];
	for (int i = 0; i < AUTH_CACHE_WAYS && !slot; i++)
		if (!set[i].used)
			slot = &set[i];
	if (!slot) {
		slot = &set[0];
		for (int i = 1; i < AUTH_CACHE_WAYS; i++)
			if (set[i].touched_ms < slot->touched_ms)
				slot = &set[i];
	}
	memcpy(slot->key, key, 32);
	slot->used = true;
	slot->checked_ms = now;
	slot->touched_ms = now;
	if (pwtag)
		memcpy(slot->pwtag, pwtag, 16);
	else
		memset(slot->pwtag, 0, 16);
	slot->id = *id;
	pthread_mutex_unlock(&a->lock);
}

void
mz__auth_cache_drop(mz_auth *a, const unsigned char key[32])
{
	pthread_mutex_lock(&a->lock);
	auth_entry *set = set_of(a, key);
	for (int i = 0; i < AUTH_CACHE_WAYS; i++)
		if (set[i].used && sodium_memcmp(set[i].key, key, 32) == 0)
			set[i].used = false;
	pthread_mutex_unlock(&a->lock);
}

void
mz__auth_cache_drop_user(mz_auth *a, const char *user)
{
	pthread_mutex_lock(&a->lock);
	for (int s = 0; s < AUTH_CACHE_SETS; s++)
		for (int i = 0; i < AUTH_CACHE_WAYS; i++)
			if (!user || strcmp(a->cache[s][i].id.user, user) == 0)
				a->cache[s][i].used = false;
	pthread_mutex_unlock(&a->lock);
}
