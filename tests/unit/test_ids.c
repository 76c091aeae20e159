/* test_ids.c - core's ULIDs (ids.c): 26 Crockford base32 digits whose
 * first ten encode the creation time in milliseconds, strictly increasing
 * within the process (the random part counts up within a millisecond). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/core.h"

#include <string.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The 128-bit value of a ULID, decoded digit by digit. */
static unsigned __int128
decode(const char *id)
{
	unsigned __int128 v = 0;
	for (int i = 0; i < 26; i++) {
		const char *p = strchr(alphabet, id[i]);
		assert_non_null(p);
		assert_true(id[i] != '\0');
		v = v << 5 | (unsigned)(p - alphabet);
	}
	return v;
}

static void
test_ulid_time_and_order(void **state)
{
	(void)state;
	char prev[27] = "", id[27];
	unsigned __int128 last = 0;
	for (int n = 0; n < 20000; n++) {
		int64_t before = mz_now_ms();
		mz_ulid(id);
		int64_t after = mz_now_ms();
		assert_int_equal(strlen(id), 26);
		assert_true(strchr("01234567", id[0]) != NULL); /* 2 pad bits */
		unsigned __int128 v = decode(id);
		int64_t ms = (int64_t)(v >> 80);
		/* the clock's time (a second either way: the wall clock may be
		 * stepped; a wrong bit anywhere in the time is far off) */
		assert_true(ms >= before - 1000 && ms <= after + 1000);
		if (n > 0) {
			assert_true(strcmp(prev, id) < 0);
			assert_true(v > last);
			if ((int64_t)(last >> 80) == ms) /* same millisecond: counts up */
				assert_true(v == last + 1);
		}
		memcpy(prev, id, sizeof(id));
		last = v;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid_time_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
