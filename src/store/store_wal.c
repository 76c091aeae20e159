/*
 * store_wal.c - SQLite's WAL checkpoints, run off the write path.
 *
 * By default SQLite checkpoints inside the commit that takes the WAL past
 * 1,000 frames: that writer copies the WAL's pages into the database file
 * and syncs both files while it still holds the process's write lock
 * (store_sqlite.c), so every engine batch and every trigger group behind
 * it waits for two fsyncs on whatever the disk is doing (measured: the
 * commits that stalled a trigger group for tens of milliseconds).
 *
 * Here every connection to a database file instead reports the WAL's size
 * after each commit (sqlite3_wal_hook, which replaces the automatic
 * checkpoint), and one thread per database file, with a connection of its
 * own, runs PASSIVE checkpoints when 1,000 frames are waiting: it copies
 * and syncs while writers go on appending (a PASSIVE checkpoint takes no
 * writer lock), and the next write transaction after a checkpoint that
 * caught up starts the WAL again from its beginning.
 *
 * Under a steady stream of commits the thread may never quite catch up,
 * and SQLite only rewinds a WAL that is checkpointed to its end; so once
 * WAL_INLINE_FRAMES are in it, the committing writer (which holds the
 * write lock, so nothing is appended meanwhile) checkpoints what is left,
 * as SQLite's automatic checkpoint would have: by then the thread has
 * copied nearly all of it. The WAL stays bounded (about 64 MB of 4 KB
 * pages; a little more when the thread's own checkpoint is running at that
 * moment, which makes the writer's find it busy and try at the next commit)
 * and the rare checkpoint under the lock is a short one.
 *
 * Checkpoints are SQLite's own, crash-safe at any instant; the thread's
 * connection uses the same synchronous setting as the store's, so a
 * checkpoint syncs exactly as the automatic one did.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define WAL_WAKE_FRAMES 1000    /* frames not yet copied that wake the thread */
#define WAL_INLINE_FRAMES 16000 /* frames in the WAL when the writer catches up */

struct mz_wal_ckpt {
	struct mz_wal_ckpt *next;
	char *path;
	char sync[8];
	int refs; /* connections attached (guarded by registry_lock) */
	atomic_int copied; /* frames of the current WAL the thread has copied */
	atomic_int frames; /* frames in the WAL at the last commit */
	atomic_bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake, stop;
	pthread_t thread;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mz_wal_ckpt *registry;

static void *
checkpointer(void *arg)
{
	struct mz_wal_ckpt *ck = arg;
	sqlite3 *db = NULL;
	char pragma[48];
	if (sqlite3_open_v2(ck->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		mz_warn("store: the WAL checkpointer cannot open %s: %s; writers checkpoint",
		        ck->path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		db = NULL;
	} else {
		snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s", ck->sync);
		sqlite3_exec(db, pragma, NULL, NULL, NULL);
	}
	pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->wake && !ck->stop)
			pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->stop)
			break;
		ck->wake = false;
		pthread_mutex_unlock(&ck->mu);
		/* A pass copies what was committed when it began; commits made
		 * while it ran found it running and did not wake it, so it goes
		 * again while it leaves WAL_WAKE_FRAMES behind and still gets
		 * further (a reader's snapshot can hold it back: then the next
		 * commit wakes it). */
		int prev = -1, done = 0;
		for (;;) {
			int log = 0;
			done = 0;
			if (!db || sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
			                                     &done) != SQLITE_OK || done < 0)
				break;
			atomic_store(&ck->copied, done);
			if (done <= prev || atomic_load(&ck->frames) - done < WAL_WAKE_FRAMES)
				break;
			prev = done;
		}
		atomic_store(&ck->running, false);
		pthread_mutex_lock(&ck->mu);
	}
	pthread_mutex_unlock(&ck->mu);
	sqlite3_close(db);
	return NULL;
}

/* After every commit of an attached connection, with the WAL's size in
 * frames; the committing thread still holds the write lock. */
static int
on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct mz_wal_ckpt *ck = arg;
	int copied = atomic_load(&ck->copied);
	atomic_store(&ck->frames, frames);
	if (frames < copied) /* the WAL started again from its beginning */
		atomic_store(&ck->copied, copied = 0);
	if (frames >= WAL_INLINE_FRAMES) {
		int log = 0, done = 0;
		if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
		        SQLITE_OK &&
		    done >= 0)
			atomic_store(&ck->copied, done);
	} else if (frames - copied >= WAL_WAKE_FRAMES && !atomic_exchange(&ck->running, true)) {
		pthread_mutex_lock(&ck->mu);
		ck->wake = true;
		pthread_cond_signal(&ck->cv);
		pthread_mutex_unlock(&ck->mu);
	}
	return SQLITE_OK;
}

mz_wal_ckpt *
mz__wal_attach(struct sqlite3 *db, const char *sync)
{
	const char *path = sqlite3_db_filename(db, "main");
	if (!path || !*path) /* in memory: nothing to checkpoint */
		return NULL;
	pthread_mutex_lock(&registry_lock);
	struct mz_wal_ckpt *ck = registry;
	while (ck && strcmp(ck->path, path) != 0)
		ck = ck->next;
	if (!ck && (ck = calloc(1, sizeof(*ck))) != NULL) {
		ck->path = strdup(path);
		snprintf(ck->sync, sizeof(ck->sync), "%s", sync);
		pthread_mutex_init(&ck->mu, NULL);
		pthread_cond_init(&ck->cv, NULL);
		if (!ck->path || pthread_create(&ck->thread, NULL, checkpointer, ck) != 0) {
			free(ck->path);
			free(ck);
			ck = NULL;
		} else {
			ck->next = registry;
			registry = ck;
		}
	}
	if (ck) {
		ck->refs++;
		sqlite3_wal_hook(db, on_commit, ck);
	}
	/* without a thread (out of memory), SQLite's automatic checkpoint
	 * stays in place */
	pthread_mutex_unlock(&registry_lock);
	return ck;
}

void
mz__wal_detach(struct sqlite3 *db, mz_wal_ckpt *ck)
{
	if (!ck)
		return;
	sqlite3_wal_hook(db, NULL, NULL);
	pthread_mutex_lock(&registry_lock);
	bool last = --ck->refs == 0;
	if (last) {
		struct mz_wal_ckpt **p = &registry;
		while (*p != ck)
			p = &(*p)->next;
		*p = ck->next;
	}
	pthread_mutex_unlock(&registry_lock);
	if (!last)
		return;
	pthread_mutex_lock(&ck->mu);
	ck->stop = true;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	pthread_mutex_destroy(&ck->mu);
	pthread_cond_destroy(&ck->cv);
	free(ck->path);
	free(ck);
}
