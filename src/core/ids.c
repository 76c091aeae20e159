/* ids.c - clocks and identifiers: ULIDs for executions and stages (as Orca
 * uses), UUIDs for pipeline configs (as Front50 assigns). */
#include "core/core.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t
mz_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mz_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
mz_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got <= 0)
			continue;
		p += got;
		n -= (size_t)got;
	}
}

/* ULIDs made in the same millisecond increment the random part, so ids stay
 * strictly sortable in creation order within this process (the "monotonic"
 * ULID variant). Stage order in lists relies on it. */
void
mz_ulid(char out[27])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t last_ms;
	static unsigned char last_rand[10];
	unsigned char bytes[16];
	int64_t ms = mz_now_ms();

	pthread_mutex_lock(&lock);
	if (ms <= last_ms) {
		ms = last_ms;
		for (int i = 9; i >= 0; i--) {
			if (++last_rand[i] != 0)
				break;
		}
	} else {
		last_ms = ms;
		mz_random_bytes(last_rand, sizeof(last_rand));
		last_rand[0] &= 0x7f; /* room to increment without overflow */
	}
	for (int i = 0; i < 6; i++)
		bytes[i] = (unsigned char)(ms >> (8 * (5 - i)));
	memcpy(bytes + 6, last_rand, 10);
	pthread_mutex_unlock(&lock);

	/* 128 bits -> 26 base32 digits, most significant first (2 pad bits):
	 * five bits at a time from the low end of one 128-bit number (a
	 * launch makes one id per stage and task; bit by bit cost 2,700
	 * instructions an id) */
	unsigned __int128 v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 8 | bytes[i];
	for (int i = 25; i >= 0; i--) {
		out[i] = alphabet[(unsigned)v & 31];
		v >>= 5;
	}
	out[26] = '\0';
}

void
mz_uuid(char out[37])
{
	unsigned char b[16];
	mz_random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	         b[11], b[12], b[13], b[14], b[15]);
}

bool
mz_id_valid(const char *id)
{
	if (!id || !*id || strlen(id) > 120 || id[0] == '.')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
}
