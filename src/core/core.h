/*
 * core.h - the shared vocabulary of every mizzen component: error codes and
 * the error record that carries a human message next to them, logging, time,
 * identifiers (ULID, UUID), a growable string buffer, and JSON helpers over
 * jansson.
 *
 * Ownership rule for JSON (jansson): a function returning json_t * returns a
 * NEW reference the caller must json_decref(), unless its comment says
 * "borrowed". Functions taking json_t * borrow it unless they say "steals".
 */
#ifndef MZ_CORE_H
#define MZ_CORE_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ----------------------------------------------------------- */

/* One error vocabulary for every layer; api/ maps it to HTTP once. */
typedef enum mz_code {
	MZ_OK = 0,
	MZ_EINVAL,     /* bad input: 400 */
	MZ_ENOTFOUND,  /* 404 */
	MZ_ECONFLICT,  /* duplicate, stale, wrong state: 409 (or 400 for stale) */
	MZ_EFORBIDDEN, /* 403 */
	MZ_EBUSY,      /* store busy, try again: 503 */
	MZ_EIO,        /* store or OS failure: 500 */
	MZ_ENOMEM,     /* 500 */
	MZ_ETIMEOUT,
	MZ_EINTERNAL,
	MZ_ENOSPACE,   /* the disk (or database) is full: 503, try again later */
} mz_code;

/* An error record: the code plus a message a person can act on. */
typedef struct mz_err {
	mz_code code;
	char msg[512];
} mz_err;

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return mz_fail(err, MZ_EINVAL, "stage '%s' has no type", ref);`. */
mz_code mz_fail(mz_err *err, mz_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mz_err_clear(mz_err *err);
const char *mz_code_name(mz_code code);

/* ---- logging ---------------------------------------------------------- */

typedef enum { MZ_LOG_DEBUG, MZ_LOG_INFO, MZ_LOG_WARN, MZ_LOG_ERROR } mz_log_level;

void mz_log_set_level(mz_log_level level);
/* text with credentials masked: a URL's user:password@ becomes
 * user:****@, "Bearer <token>" becomes "Bearer ****", a Slack webhook's
 * path becomes ****. Every log line goes through it. A new string. */
char *mz_mask_credentials(const char *text);
/* A URL whose path is a credential (a Slack-compatible webhook), for a
 * message: the scheme and host, then "/" and four stars. */
void mz_mask_url_path(const char *url, char *out, size_t outsz);
void mz_log(mz_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define mz_debug(...) mz_log(MZ_LOG_DEBUG, __VA_ARGS__)
#define mz_info(...) mz_log(MZ_LOG_INFO, __VA_ARGS__)
/* Rate limit for a message that repeats while a condition lasts (a full
 * disk, a locked database): one line per interval, not one per attempt.
 * mz_log_allow returns true when the caller may log now, with *held the
 * number of messages held back since the last one. One per thread. */
typedef struct mz_log_limit {
	int64_t next_ms;
	long held;
} mz_log_limit;
bool mz_log_allow(mz_log_limit *l, int64_t interval_ms, long *held);
#define mz_warn(...) mz_log(MZ_LOG_WARN, __VA_ARGS__)
#define mz_error(...) mz_log(MZ_LOG_ERROR, __VA_ARGS__)

/* ---- time and ids ----------------------------------------------------- */

int64_t mz_now_ms(void);      /* wall clock, ms since the epoch */
int64_t mz_mono_ms(void);     /* monotonic clock, ms */

/* A ULID: 26 chars of Crockford base32, time-sortable; out must hold 27. */
void mz_ulid(char out[27]);
/* A random (v4) UUID, lower-case with dashes; out must hold 37. */
void mz_uuid(char out[37]);
/* Fills buf with n random bytes from getrandom(2). */
void mz_random_bytes(void *buf, size_t n);

/* ---- growable buffer -------------------------------------------------- */

/* Invariants: `data` is never NULL after init and always NUL-terminated;
 * an append that would pass `max` fails with MZ_EINVAL and leaves the
 * buffer as it was. */
typedef struct mz_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
} mz_buf;

void mz_buf_init(mz_buf *b, size_t max);
void mz_buf_release(mz_buf *b);
void mz_buf_reset(mz_buf *b);
mz_code mz_buf_add(mz_buf *b, const void *data, size_t len);
mz_code mz_buf_adds(mz_buf *b, const char *s);
mz_code mz_buf_printf(mz_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free() it) and re-initialises b. */
char *mz_buf_detach(mz_buf *b, size_t *len);

/* ---- strings ---------------------------------------------------------- */

char *mz_strdup(const char *s);         /* aborts on OOM: tiny allocations */
/* A copy of s without leading and trailing white space (aborts on OOM). */
char *mz_strtrim(const char *s);
char *mz_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool mz_streq(const char *a, const char *b);        /* NULL-safe */
bool mz_strcaseeq(const char *a, const char *b);    /* NULL-safe */

/* ---- JSON helpers ----------------------------------------------------- */

/* Borrowed lookups that tolerate NULL objects and wrong types. */
const char *mz_json_str(const json_t *obj, const char *key);
/* Integer value of a number or a numeric string; dflt otherwise. */
int64_t mz_json_int(const json_t *obj, const char *key, int64_t dflt);
double mz_json_num(const json_t *obj, const char *key, double dflt);
/* Spinnaker parses booleans with toString()+parseBoolean: "true" works. */
bool mz_json_bool(const json_t *obj, const char *key, bool dflt);
/* The text of a timestamp such as updateTs, which clients send as a
 * string or a number: malloc'd, or NULL when v is neither. */
char *mz_json_ts_text(const json_t *v);
/* Borrowed; NULL when absent or not of that type. */
json_t *mz_json_obj(const json_t *obj, const char *key);
json_t *mz_json_arr(const json_t *obj, const char *key);
/* Truthiness the way Groovy/SpEL users expect: null, false, 0, "" are false. */
bool mz_json_truthy(const json_t *v);

/* Compact serialisation with keys in insertion order, the same bytes as
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); free() the result
 * (json_dump.c). _len also gives its length. */
char *mz_json_dump(const json_t *v);
char *mz_json_dump_len(const json_t *v, size_t *len);
/* The same with every object's keys sorted (bytewise): the canonical text
 * two equal values share, whatever order their keys were added in. */
char *mz_json_canonical(const json_t *v);
/* Parses text; on failure sets err with line/column and returns NULL. */
json_t *mz_json_parse(const char *text, size_t len, mz_err *err);

/* Shallow merge, like Java's putAll: copies every key of src into dst
 * (src borrowed), replacing existing keys. */
void mz_json_merge(json_t *dst, const json_t *src);
/* Merges patch into obj's object at key (made when missing or not an
 * object): each key of patch replaces, a null removes it (a JSON merge
 * patch, one level deep: an image's tags). */
void mz_json_merge_patch(json_t *obj, const char *key, const json_t *patch);

/* A file-name-safe id "<prefix>-<key>" (characters outside [A-Za-z0-9-]
 * become '_', at most 100 of them); a new ULID when key is empty. Derived
 * from an idempotency key, it names the same job or bake on a replay. */
void mz_id_from_key(const char *prefix, const char *key, char out[128]);
/* An id as mz_id_from_key makes (letters, digits, '-', '_'; at most 120;
 * not starting with '.'): safe to use as a file name. */
bool mz_id_valid(const char *id);

/* ---- files ------------------------------------------------------------ */

/* Writes v (serialised with jansson dump flags) to path atomically: a
 * temporary file beside it, fsync, rename, so a crash leaves the old file
 * or the new one. Returns 0, or -1 with errno set. */
int mz_json_write_file(const char *path, const json_t *v, size_t flags);
/* The JSON document in path; NULL when it is missing or does not parse. */
json_t *mz_json_read_file(const char *path);

/* mkdir -p; returns 0 or -1 with errno. */
int mz_mkdirs(const char *path, int mode);
/* Reads a whole file; NULL with err on failure; free() the result. */
char *mz_read_file(const char *path, size_t *len, mz_err *err);
/* Resolves each entry of roots (a JSON array of absolute directories) to
 * its real path: a new array, leaving out (and naming in a warning under
 * setting) those that do not exist. */
json_t *mz_path_roots(const json_t *roots, const char *setting);
/* True when path lies under one of roots (real paths, from mz_path_roots):
 * a host path a pipeline names (a bake package, a deploy image) must, or a
 * pipeline could read any file of the host (the database, keys). A relative
 * path is taken from the server's working directory. must_exist: resolve
 * links (when it is used); else (at save) a path that does not exist yet
 * is judged by its text, and refused when relative or holding "." or "..". */
bool mz_path_within(const char *path, const json_t *roots, bool must_exist);
/* Takes an exclusive flock() on dir/mizzen.lock for the life of the
 * process and writes our pid into it: one server per data directory. The
 * descriptor is close-on-exec; the kernel drops the lock when the process
 * dies, so a crashed server never blocks a restart. Returns the descriptor,
 * or -1 with err saying who holds it (MZ_ECONFLICT) or what failed. */
int mz_lock_data_dir(const char *dir, mz_err *err);
/* The descriptor holding that lock, or -1. A forked child closes it first
 * thing: O_CLOEXEC drops it only at the exec, and a child still preparing
 * (chowning a workspace, binding paths) when the server is killed would
 * keep the data directory locked against the restarted server. */
int mz_data_dir_lock_fd(void);

/* ---- SHA-256 ----------------------------------------------------------- */

/* Streaming SHA-256 (FIPS 180-4): content addresses, bake keys, webhook
 * signatures. init, any number of updates, then final or hex. */
typedef struct mz_sha256_ctx {
	uint32_t h[8];
	unsigned char buf[64];
	size_t nbuf;
	uint64_t total;
} mz_sha256_ctx;

void mz_sha256_init(mz_sha256_ctx *c);
void mz_sha256_update(mz_sha256_ctx *c, const void *data, size_t len);
void mz_sha256_final(mz_sha256_ctx *c, unsigned char out[32]);
/* final, as 64 lower-case hex digits and a NUL. */
void mz_sha256_hex(mz_sha256_ctx *c, char out[65]);
void mz_sha256(const void *data, size_t len, unsigned char out[32]);
void mz_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32]);
/* Lower-case hex of len bytes; out holds 2*len+1. */
void mz_hex(const unsigned char *data, size_t len, char *out);

/* ---- base64 ----------------------------------------------------------- */

char *mz_base64_encode(const unsigned char *data, size_t len);
/* Returns NULL on malformed input; *out_len receives the decoded size. */
unsigned char *mz_base64_decode(const char *text, size_t *out_len);

#endif
