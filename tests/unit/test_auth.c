/* test_auth.c - unit tests of src/auth over a real SQLite store in a temp
 * directory: the first admin and its 0600 password file, Basic, bearer
 * tokens and sessions (right, wrong, revoked), role changes reaching
 * cached identities, name validation, and token records holding no
 * token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/core.h"

typedef struct fixture {
	char dir[64];
	char *db;
	mz_auth *auth;
	mz_store *st;
	char password[64];
} fixture;

static char *
basic(const char *user, const char *password)
{
	char *raw = mz_asprintf("%s:%s", user, password);
	char *b64 = mz_base64_encode((const unsigned char *)raw, strlen(raw));
	char *h = mz_asprintf("Basic %s", b64);
	free(raw);
	free(b64);
	return h;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/mz-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->db = mz_asprintf("%s/mizzen.db", f->dir);
	mz_auth_config cfg = {.db_url = f->db, .data_dir = f->dir, .enabled = true};
	mz_err err = {0};
	assert_int_equal(mz_auth_start(&cfg, &f->auth, &err), MZ_OK);
	/* the first admin is made beside the start: wait for its file */
	char *path = mz_asprintf("%s/initial-admin-password", f->dir);
	FILE *fp = NULL;
	for (int i = 0; i < 500 && !(fp = fopen(path, "r")); i++)
		usleep(10000);
	assert_non_null(fp);
	assert_non_null(fgets(f->password, sizeof(f->password), fp));
	f->password[strcspn(f->password, "\n")] = '\0';
	fclose(fp);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);
	assert_int_equal(mz_store_open(f->db, &f->st, &err), MZ_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	mz_store_close(f->st);
	mz_auth_stop(f->auth);
	char *cmd = mz_asprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->db);
	free(f);
	return 0;
}

static void
test_first_admin_and_basic(void **state)
{
	fixture *f = *state;
	mz_identity id;
	mz_err err = {0};
	assert_true(strlen(f->password) >= 16);
	char *h = basic("admin", f->password);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_OK);
	assert_string_equal(id.user, "admin");
	assert_true(id.admin);
	assert_int_equal(id.via, MZ_VIA_BASIC);
	/* again: from the cache, same answer */
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_OK);
	free(h);
	h = basic("admin", "wrong-password");
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_INVALID);
	free(h);
	h = basic("nobody", f->password);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_INVALID);
	free(h);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, "Basic !!!", &id, &err),
	                 MZ_AUTH_INVALID);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, "Digest x", &id, &err),
	                 MZ_AUTH_INVALID);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, NULL, &id, &err), MZ_AUTH_MISSING);
	/* the store holds an Argon2id hash, not the password */
	char *rec = NULL;
	assert_int_equal(mz_kv_get(f->st, "auth/user/admin", &rec, &err), MZ_OK);
	assert_non_null(strstr(rec, "$argon2id$"));
	assert_null(strstr(rec, f->password));
	free(rec);
}

static void
test_users_roles_and_cache(void **state)
{
	fixture *f = *state;
	mz_identity id;
	mz_err err = {0};
	json_t *roles = json_pack("[s, s, s]", "Dev", "dev", "qa");
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "alice", "alice-pass", roles, true, &err),
	                 MZ_OK);
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "alice", "other-pass", roles, true, &err),
	                 MZ_ECONFLICT);
	json_decref(roles);
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "bad name", "password1", NULL, true,
	                                  &err), MZ_EINVAL);
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "bob", "short", NULL, true, &err),
	                 MZ_EINVAL);
	char *h = basic("alice", "alice-pass");
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_OK);
	assert_false(id.admin);
	assert_int_equal(id.nroles, 2); /* lower-cased, duplicates dropped */
	assert_true(mz_identity_has_role(&id, "dev"));
	assert_true(mz_identity_has_role(&id, "QA"));
	/* new roles reach the cached identity at once */
	json_t *ops = json_pack("[s]", "ops");
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "alice", NULL, ops, false, &err), MZ_OK);
	json_decref(ops);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_OK);
	assert_int_equal(id.nroles, 1);
	assert_true(mz_identity_has_role(&id, "ops"));
	/* a new password: the old one stops working */
	assert_int_equal(mz_auth_user_put(f->auth, f->st, "alice", "new-password", NULL, false,
	                                  &err), MZ_OK);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_INVALID);
	free(h);
	json_t *list = NULL;
	assert_int_equal(mz_auth_user_list(f->auth, f->st, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	char *listed = mz_json_dump(list);
	assert_null(strstr(listed, "argon2")); /* no hash in the view */
	free(listed);
	json_decref(list);
	assert_int_equal(mz_auth_user_delete(f->auth, f->st, "alice", &err), MZ_OK);
	assert_int_equal(mz_auth_user_delete(f->auth, f->st, "alice", &err), MZ_ENOTFOUND);
}

static void
test_tokens_and_sessions(void **state)
{
	fixture *f = *state;
	mz_identity id;
	mz_err err = {0};
	char *tok = NULL;
	assert_int_equal(mz_auth_token_create(f->auth, f->st, "admin", "ci", &tok, &err), MZ_OK);
	assert_int_equal(strncmp(tok, "mzt_", 4), 0);
	char *dup = NULL;
	assert_int_equal(mz_auth_token_create(f->auth, f->st, "admin", "ci", &dup, &err),
	                 MZ_ECONFLICT);
	char *h = mz_asprintf("Bearer %s", tok);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_OK);
	assert_string_equal(id.user, "admin");
	assert_int_equal(id.via, MZ_VIA_TOKEN);
	/* the store keeps a digest only */
	json_t *pairs = NULL;
	assert_int_equal(mz_kv_list(f->st, "auth/token/", &pairs, &err), MZ_OK);
	char *text = mz_json_dump(pairs);
	assert_null(strstr(text, tok + 4));
	free(text);
	json_decref(pairs);
	json_t *list = NULL;
	assert_int_equal(mz_auth_token_list(f->auth, f->st, "admin", &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "name"), "ci");
	json_decref(list);
	/* deleted: refused at once, cache or not */
	assert_int_equal(mz_auth_token_delete(f->auth, f->st, "admin", "ci", &err), MZ_OK);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, h, &id, &err), MZ_AUTH_INVALID);
	assert_int_equal(mz_auth_check_header(f->auth, f->st, "Bearer mzt_nothing", &id, &err),
	                 MZ_AUTH_INVALID);
	free(h);
	free(tok);

	char *sid = NULL;
	assert_int_equal(mz_auth_login(f->auth, f->st, "admin", "nope", &sid, &id, &err),
	                 MZ_EFORBIDDEN);
	assert_int_equal(mz_auth_login(f->auth, f->st, "admin", f->password, &sid, &id, &err),
	                 MZ_OK);
	assert_int_equal(mz_auth_check_session(f->auth, f->st, sid, &id, &err), MZ_AUTH_OK);
	assert_int_equal(id.via, MZ_VIA_SESSION);
	assert_int_equal(mz_auth_logout(f->auth, f->st, sid, &err), MZ_OK);
	assert_int_equal(mz_auth_check_session(f->auth, f->st, sid, &id, &err), MZ_AUTH_INVALID);
	free(sid);
}

static void
test_names(void **state)
{
	assert_true(mz_auth_valid_name("alice@example.com"));
	assert_true(mz_auth_valid_name("a.b_c+d-e"));
	assert_false(mz_auth_valid_name(""));
	assert_false(mz_auth_valid_name("a b"));
	assert_false(mz_auth_valid_name("a/b"));
	assert_false(mz_auth_valid_name(NULL));
	char longname[80];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(mz_auth_valid_name(longname));
}

/* core's credential masking, which every log line goes through */
static void
test_masking(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"smtp://mailer:hunter2@mail.example.com:25 refused",
		 "smtp://mailer:****@mail.example.com:25 refused"},
		{"cloning https://x-token@github.com/acme/shop.git",
		 "cloning https://****@github.com/acme/shop.git"},
		{"GET http://example.com/a?b=user:pw@c", "GET http://example.com/a?b=user:pw@c"},
		{"Authorization: Bearer mzt_abc.DEF-123 sent", "Authorization: Bearer **** sent"},
		{"POST https://hooks.slack.com/services/T00/B00/XyZ failed",
		 "POST https://hooks.slack.com/services/**** failed"},
		{"nothing secret here", "nothing secret here"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = mz_mask_credentials(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
	char out[128];
	mz_mask_url_path("http://127.0.0.1:9/services/T0/B0/SECRET", out, sizeof(out));
	assert_string_equal(out, "http://127.0.0.1:9/****");
	mz_mask_url_path("https://u:p@hooks.example.com", out, sizeof(out));
	assert_string_equal(out, "https://u:****@hooks.example.com");
}

static void
test_disabled_is_open(void **state)
{
	mz_auth *a = NULL;
	char dir[] = "/tmp/mz-auth-off-XXXXXX";
	assert_non_null(mkdtemp(dir));
	mz_auth_config cfg = {.enabled = false, .data_dir = dir};
	mz_err err = {0};
	mz_identity id;
	assert_int_equal(mz_auth_start(&cfg, &a, &err), MZ_OK);
	assert_int_equal(mz_auth_check_header(a, NULL, NULL, &id, &err), MZ_AUTH_OK);
	assert_true(id.admin);
	assert_int_equal(id.via, MZ_VIA_OPEN);
	mz_auth_stop(a);
	char *cmd = mz_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_admin_and_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_roles_and_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens_and_sessions, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_disabled_is_open),
		cmocka_unit_test(test_masking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
