/*
 * local_int.h - internals of the local provider, shared by its .c files.
 *
 * The model is JSON under one mutex (lp->mu): server group records keyed
 * "account/region/name", load balancer records keyed by name, tasks keyed by
 * id. Each record is also a file under <data>/cloud, rewritten atomically on
 * every change, so a restart reads back exactly what it left.
 *
 * A server group record:
 *   {name, account, region, cluster, app, stack, detail, sequence,
 *    createdTime, disabled, capacity:{min,max,desired}, image:{imageId, name,
 *    path, manifest}, command:[...], env:{}, healthCheck:{path, intervalMs,
 *    timeoutMs}, loadBalancers:[...], buildInfo, nextIndex,
 *    instances:[{id, pid (0 while waiting to restart), startTicks, port,
 *                launchTime, startedAt (of the current process), workdir
 *                (home/ and console.log), log, state:"Starting"|"Up"|"Down",
 *                fails, inLb, restartCount, crashLoop (crashes in a row),
 *                restartAt, lastExit:{exitCode|null, time, ranMs}}]}
 *
 * Lock order: lp->mu, then lp->hmu (HAProxy). Never wait on HAProxy draining
 * while holding lp->mu.
 */
#ifndef MZ_CLOUD_LOCAL_INT_H
#define MZ_CLOUD_LOCAL_INT_H

/* Supervision pass interval while an instance is Starting (ms): a new
 * instance is reported Up within this of its first healthy answer. */
#define MZ_LOCAL_STARTING_POLL_MS 100
/* An instance without an HTTP health check is Up once it has run this
 * long (ms): a command that exits at once never counts as Up. */
#define MZ_LOCAL_SETTLE_MS 500
/* How long an instance counts as starting (fast probes), ms. */
#define MZ_LOCAL_STARTING_MS 120000
/* The longest wait between probes of an instance whose probes fail, ms. */
#define MZ_LOCAL_PROBE_MAX_MS 10000
/* Restarts of a crashing instance (Kubernetes' CrashLoopBackOff): 1 s after
 * the first crash, doubling, at most 5 min; an instance that ran 10 min
 * starts over at 1 s. */
#define MZ_LOCAL_RESTART_FIRST_MS 1000
#define MZ_LOCAL_RESTART_MAX_MS (5 * 60 * 1000)
#define MZ_LOCAL_RESTART_RESET_MS (10 * 60 * 1000)
/* A console log is rotated (one old copy kept) beyond this size. */
#define MZ_LOCAL_LOG_MAX (10 * 1024 * 1024)

#include "cloud/local/local.h"
#include "proc/proc.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

struct mz_local {
	char *root;            /* <data>/cloud */
	json_t *accounts;      /* [{name, regions:[names]}] */
	int health_ms;
	json_t *image_roots;   /* real paths under which a path image may lie */

	pthread_mutex_t mu;    /* the model below */
	json_t *sgs;           /* "account/region/name" -> record */
	json_t *lbs;           /* name -> record */
	json_t *tasks;         /* id -> task */
	json_t *requests;      /* clientRequestId -> task id */
	json_t *queue;         /* [{id, op, description}] */
	json_t *last_check;    /* instance id -> monotonic ms of its last HTTP check */
	pthread_cond_t qcv;    /* queue not empty, or stopping */
	pthread_cond_t mcv;    /* wakes the monitor early */
	bool stopping;

	pthread_t worker;
	pthread_t monitor;
	bool threads_started;

	pthread_mutex_t hmu;   /* HAProxy: config, sockets, reloads */
};

/* ---- files (local_util.c) ---------------------------------------------- */

/* Writes JSON to path atomically (tmp + fsync + rename). */
int lp_write_json(const char *path, const json_t *v);
json_t *lp_read_json(const char *path);
void lp_sleep_ms(int ms);

/* ---- names (local_util.c) ---------------------------------------------- */

bool lp_name_chars(const char *s, bool hyphen);
bool lp_has_push_token(const char *s);
/* Frigga: parses a name into a moniker {app, cluster, stack, detail,
 * sequence}; fields null when absent. */
json_t *lp_moniker(const char *name);
/* app[-stack[-detail]] */
char *lp_cluster_name(const char *app, const char *stack, const char *detail);

/* ---- processes (local_proc.c) ------------------------------------------ */

/* A free TCP port on 127.0.0.1 not in `taken` (array of integers). */
int lp_free_port(const json_t *taken);
bool lp_port_free(int port);
/* GET http://127.0.0.1:port/path with a timeout; returns the HTTP status or
 * -1; body (if given) receives up to 64 KiB of the body. */
int lp_http_get(int port, const char *path, int timeout_ms, mz_buf *body);

/* ---- images (local_image.c) -------------------------------------------- */

/* Caller holds no lock. */
mz_code lp_image_import(mz_local *lp, const char *path, const json_t *manifest,
                        char image_id[80], mz_err *err);
json_t *lp_image_load(mz_local *lp, const char *image_id);
bool lp_image_id_like(const char *s);

/* ---- HAProxy (local_haproxy.c) ----------------------------------------- */

/* Writes the config from the model (lp->mu held by the caller). */
int lp_ha_write_config(mz_local *lp, mz_err *err);
/* Starts HAProxy if it is not running (re-attaches otherwise); reloads it
 * when `reload` is set and it was running. Caller holds lp->mu. */
mz_code lp_ha_apply(mz_local *lp, bool reload, mz_err *err);
bool lp_ha_running(mz_local *lp);
/* Runtime API: add a server as ready (checks on). Caller may hold lp->mu. */
int lp_ha_add_server(mz_local *lp, const char *lb, const char *server, int port);
/* Drains the servers ("lb\tserver" strings), waits until idle (timeout),
 * then maint + del. Caller must not hold lp->mu. */
void lp_ha_remove_servers(mz_local *lp, const json_t *pairs, int timeout_ms);
char *lp_ha_server_name(const char *instance_id);
/* Sends a command on the runtime socket; returns the reply (free()) or NULL. */
char *lp_ha_cmd(mz_local *lp, const char *cmd);

/* ---- model (local.c) --------------------------------------------------- */

char *lp_sg_key(const char *account, const char *region, const char *name);
int lp_sg_save(mz_local *lp, const json_t *sg);
/* Starts one instance of sg (lp->mu held); appends it to sg.instances. */
mz_code lp_instance_start(mz_local *lp, json_t *sg, mz_err *err);
/* Collects "lb\tserver" pairs for the instance's LB membership. */
void lp_instance_lb_pairs(const json_t *sg, const json_t *inst, json_t *pairs);
json_t *lp_all_ports(mz_local *lp);
/* Adds an Up instance of an enabled server group to its load balancers
 * (lp->mu held); true when it joined. */
bool lp_instance_join_lbs(mz_local *lp, json_t *sg, json_t *inst);
/* Starts or gives up instances to reach capacity.desired (lp->mu held);
 * what must be stopped goes to `stops` for lp_run_stops. */
bool lp_reconcile(mz_local *lp, json_t *sg, json_t *stops);
void lp_detach_instance(json_t *sg, size_t i, json_t *stops, bool rm_workdir);
/* Without lp->mu: drain from HAProxy, stop process groups, remove workdirs. */
void lp_run_stops(mz_local *lp, json_t *stops, int drain_ms);
json_t *lp_find_instance(json_t *sg, const char *id, size_t *index);
/* Rewrites haproxy.cfg from the model (lp->mu held). */
void lp_write_config_locked(mz_local *lp);
void lp_wake_monitor(mz_local *lp);

/* ---- operations (local_ops.c) ------------------------------------------ */

void *lp_worker_main(void *arg);
void lp_tasks_load(mz_local *lp);

#endif
