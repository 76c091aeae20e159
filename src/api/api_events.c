/* api_events.c - live updates for the web UI: GET /events?application=APP,
 * a text/event-stream of execution summaries (Spinnaker's execution JSON
 * without stage contexts, outputs and tasks).
 *
 * Why server-sent events: Deck re-polls whole executions every few seconds
 * (megabytes per second while a pipeline runs); here the engine tells us of
 * every commit that changed an execution and each subscriber gets that
 * execution's summary once, so the UI moves without polling.
 *
 * How: every subscriber is one HTTP connection answered by a chunked
 * libmicrohttpd response whose content callback copies queued events out.
 * When nothing is queued the callback suspends the connection (returning 0
 * without suspending would make MHD call it again at once: a busy loop);
 * the engine's listener queues an event and resumes the connection. A
 * ticker thread resumes every subscriber every EV_KEEPALIVE_MS so that a
 * comment line goes out (proxies would time an idle stream out).
 *
 * A client that goes away must free its slot at once, but libmicrohttpd
 * does not look at a suspended connection's socket. So the ticker also
 * waits in epoll for the peer-closed event (EPOLLRDHUP, one-shot) of every
 * subscriber's socket, registered under the subscriber's id: when it
 * fires, the stream ends and libmicrohttpd closes the connection.
 * (A client that only shuts its sending side counts as gone too.)
 * Stopping the daemon while a connection is suspended aborts the process,
 * so api_events_stop ends every stream and resumes them all before
 * MHD_stop_daemon.
 *
 * Bounds: no subscriber count of its own: streams are connections, held to
 * the server's connection limits (api_limits.c). A subscriber costs a few
 * kilobytes: its queue starts small and grows to at most EV_QUEUE_MAX
 * events. A newer summary of an execution that is still queued replaces
 * the queued one (only the latest state matters); when the queue is full
 * anyway it is dropped and the client is sent one "resync" event, after
 * which it re-reads the list.
 *
 * Locking: one process-wide mutex guards every hub and subscriber. The
 * engine's listener may run on any thread (engine workers, API threads
 * doing operator actions) and may already be running when the API stops,
 * so it only ever touches a hub found, under that mutex, in the list of
 * live hubs; a stopped hub is unlinked first and freed after.
 * MHD_suspend_connection and MHD_resume_connection are called with ev_lock
 * held (so that a resume can never overtake the suspend it answers); they
 * take MHD's cleanup mutex, and MHD destroys responses (stream_free, which
 * takes ev_lock) only outside that mutex, so the order is always ev_lock,
 * then MHD's lock. */
#include "api/api_int.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EV_QUEUE_MAX 256
#define EV_QUEUE_FIRST 4
#define EV_KEEPALIVE_MS 15000
#define EV_TICK_MS 5000 /* how often the ticker looks for streams due a keep-alive */
/* libmicrohttpd's buffer for the stream, allocated (and zeroed) per
 * subscriber: small, since the stream's bytes are written straight into the
 * connection's own buffer (measured: 4096 cost 4 kB a subscriber, 256 none) */
#define EV_BLOCK 256
#define EV_WAKE_ID 0  /* the epoll id of the ticker's own wake-up eventfd */

/* One serialised event, shared by every subscriber that queued it. */
typedef struct ev_msg {
	int refs;
	char exec_id[32];
	size_t len;
	char text[]; /* "id: ..\nevent: ..\ndata: ..\n\n" */
} ev_msg;

typedef struct ev_sub {
	struct api_events *hub;
	struct MHD_Connection *conn;
	uint64_t id;                /* its epoll registration */
	char *app;                  /* only this application's executions; NULL: all */
	mz_identity *who;           /* a non-admin subscriber: only what it may READ */
	ev_msg **q;                 /* ring of qcap */
	int qhead, qn, qcap;
	ev_msg *cur;                /* being written */
	size_t cur_off;
	bool resync;                /* events were dropped: tell the client */
	bool suspended;
	bool closing;               /* the server stops: end the stream */
	int64_t last_write_ms;
	struct ev_sub *prev, *next;
} ev_sub;

struct api_events {
	mz_api *api;
	ev_sub *subs;
	int nsubs;
	bool stopping;
	uint64_t seq;               /* event ids */
	uint64_t next_sub_id;
	int epfd;                   /* peer-closed events of every stream, and wake */
	int wakefd;
	pthread_t ticker;
	bool ticker_started;
	struct api_events *next_live;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api_events *ev_live; /* hubs the listener may publish to */

static void
msg_unref(ev_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

static ev_msg *
msg_new(const char *exec_id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static ev_msg *
msg_new(const char *exec_id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	ev_msg *m = malloc(sizeof(*m) + (size_t)n + 1);
	if (!m)
		return NULL;
	m->refs = 1;
	snprintf(m->exec_id, sizeof(m->exec_id), "%s", exec_id ? exec_id : "");
	va_start(ap, fmt);
	vsnprintf(m->text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	m->len = (size_t)n;
	return m;
}

/* Caller holds ev_lock. */
static void
sub_wake(ev_sub *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

/* Doubles s's ring up to EV_QUEUE_MAX (caller holds ev_lock). */
static bool
queue_grow(ev_sub *s)
{
	int cap = s->qcap ? s->qcap * 2 : EV_QUEUE_FIRST;
	if (cap > EV_QUEUE_MAX)
		return false;
	ev_msg **q = malloc((size_t)cap * sizeof(*q));
	if (!q)
		return false;
	for (int i = 0; i < s->qn; i++)
		q[i] = s->q[(s->qhead + i) % s->qcap];
	free(s->q);
	s->q = q;
	s->qhead = 0;
	s->qcap = cap;
	return true;
}

/* Queues m for s (caller holds ev_lock): replaces a queued event of the
 * same execution, else appends; on overflow drops the queue for a resync. */
static void
sub_push(ev_sub *s, ev_msg *m)
{
	if (s->resync)
		return; /* the client re-reads everything anyway */
	if (m->exec_id[0]) {
		for (int i = 0; i < s->qn; i++) {
			int k = (s->qhead + i) % s->qcap;
			if (strcmp(s->q[k]->exec_id, m->exec_id) == 0) {
				msg_unref(s->q[k]);
				m->refs++;
				s->q[k] = m;
				return;
			}
		}
	}
	if (s->qn == s->qcap && !queue_grow(s)) {
		for (int i = 0; i < s->qn; i++)
			msg_unref(s->q[(s->qhead + i) % s->qcap]);
		s->qn = 0;
		s->resync = true;
		return;
	}
	m->refs++;
	s->q[(s->qhead + s->qn) % s->qcap] = m;
	s->qn++;
}

/* ---- the engine's listener ------------------------------------------- */

static bool
hub_is_live(struct api_events *h)
{
	for (struct api_events *p = ev_live; p; p = p->next_live)
		if (p == h)
			return true;
	return false;
}

static void
on_execution(const json_t *execution, void *udata)
{
	struct api_events *h = udata;
	const char *app = mz_json_str(execution, "application");
	const char *id = mz_json_str(execution, "id");
	const char *type = mz_json_str(execution, "type");
	bool wanted = false, restricted = false;

	/* Cheap check first: serialise only if someone listens for this app. */
	pthread_mutex_lock(&ev_lock);
	if (hub_is_live(h) && !h->stopping)
		for (ev_sub *s = h->subs; s; s = s->next)
			if (!s->app || mz_streq(s->app, app)) {
				wanted = true;
				restricted = restricted || s->who;
			}
	pthread_mutex_unlock(&ev_lock);
	if (!wanted || !id)
		return;
	/* Subscribers who are not admins hear only of applications they may
	 * READ (the permissions are cached; looked up only when one listens). */
	json_t *perms = restricted ? api_app_permissions(h->api, NULL, app) : NULL;

	json_t *sum = mz_execution_summary(execution);
	char *data = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
	json_decref(sum);
	if (!data)
		return;

	pthread_mutex_lock(&ev_lock);
	if (hub_is_live(h) && !h->stopping) {
		/* ORCHESTRATION executions are the TASKS view's. */
		ev_msg *m = msg_new(id, "id: %llu\nevent: %s\ndata: %s\n\n",
		                    (unsigned long long)++h->seq,
		                    mz_streq(type, "ORCHESTRATION") ? "task" : "execution", data);
		if (m) {
			for (ev_sub *s = h->subs; s; s = s->next) {
				if (s->closing || (s->app && !mz_streq(s->app, app)) ||
				    (s->who && !mz_auth_allows(s->who, perms, MZ_PERM_READ)))
					continue;
				sub_push(s, m);
				sub_wake(s);
			}
			msg_unref(m);
		}
	}
	pthread_mutex_unlock(&ev_lock);
	json_decref(perms);
	free(data);
}

/* ---- the stream ------------------------------------------------------ */

static const char resync_text[] = "event: resync\ndata: {}\n\n";
static const char keepalive_text[] = ": keep-alive\n\n";

/* MHD's content callback: copies the next bytes out, or suspends. Runs on
 * the connection's MHD thread. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	ev_sub *s = cls;
	ssize_t n = 0;
	pthread_mutex_lock(&ev_lock);
	if (s->closing) {
		pthread_mutex_unlock(&ev_lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!s->cur && s->qn > 0) {
		s->cur = s->q[s->qhead];
		s->cur_off = 0;
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qn--;
	}
	int64_t now = mz_mono_ms();
	if (s->cur) {
		size_t left = s->cur->len - s->cur_off;
		n = (ssize_t)(left < max ? left : max);
		memcpy(buf, s->cur->text + s->cur_off, (size_t)n);
		s->cur_off += (size_t)n;
		if (s->cur_off == s->cur->len) {
			msg_unref(s->cur);
			s->cur = NULL;
		}
	} else if (s->resync && max >= sizeof(resync_text) - 1) {
		s->resync = false;
		n = (ssize_t)(sizeof(resync_text) - 1);
		memcpy(buf, resync_text, (size_t)n);
	} else if (now - s->last_write_ms >= EV_KEEPALIVE_MS && max >= sizeof(keepalive_text) - 1) {
		n = (ssize_t)(sizeof(keepalive_text) - 1);
		memcpy(buf, keepalive_text, (size_t)n);
	} else {
		/* Nothing to send: suspend until the listener or the ticker
		 * resumes us. Done under ev_lock so that a resume cannot slip in
		 * between the check above and the suspension. */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
	}
	if (n > 0)
		s->last_write_ms = now;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

/* MHD drops the response when the connection ends (client gone, timeout,
 * or the end of stream at shutdown): the subscriber goes with it. */
static void
stream_free(void *cls)
{
	ev_sub *s = cls;
	pthread_mutex_lock(&ev_lock);
	struct api_events *h = s->hub;
	if (s->prev)
		s->prev->next = s->next;
	else if (h->subs == s)
		h->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsubs--;
	for (int i = 0; i < s->qn; i++)
		msg_unref(s->q[(s->qhead + i) % s->qcap]);
	msg_unref(s->cur);
	pthread_mutex_unlock(&ev_lock);
	/* its epoll registration goes when libmicrohttpd closes the socket */
	free(s->q);
	free(s->app);
	free(s->who);
	free(s);
}

static void
events(api_req *r)
{
	struct api_events *h = r->api->events;
	const char *app = api_query(r, "application");
	if (!h) {
		api_reply_error(r, 503, "live updates are not available on this server");
		return;
	}
	if (app && *app && !api_allow_app(r, app, MZ_PERM_READ))
		return;
	ev_sub *s = calloc(1, sizeof(*s));
	if (!s) {
		api_reply_error(r, 503, "out of memory");
		return;
	}
	if (!r->id.admin) {
		s->who = malloc(sizeof(*s->who));
		if (!s->who) { /* never fall back to hearing everything */
			free(s);
			api_reply_error(r, 503, "out of memory");
			return;
		}
		*s->who = r->id;
	}
	s->hub = h;
	s->conn = r->conn;
	s->app = app && *app ? mz_strdup(app) : NULL;
	s->last_write_ms = mz_mono_ms();
	/* First event: tells EventSource how long to wait before reconnecting,
	 * and gives the client a moment it knows the stream is live. */
	json_t *hello = json_pack("{s:s?}", "application", s->app);
	char *hello_text = json_dumps(hello, JSON_COMPACT);
	json_decref(hello);
	ev_msg *m = msg_new(NULL, "retry: 2000\nevent: hello\ndata: %s\n\n",
	                    hello_text ? hello_text : "{}");
	free(hello_text);

	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = fi ? fi->connect_fd : -1;

	pthread_mutex_lock(&ev_lock);
	bool stopping = h->stopping;
	bool ok = !stopping && m && queue_grow(s);
	if (ok) {
		s->id = ++h->next_sub_id;
		s->q[0] = m;
		s->qn = 1;
		m = NULL;
		s->next = h->subs;
		if (h->subs)
			h->subs->prev = s;
		h->subs = s;
		h->nsubs++;
		/* tell us when the client goes (one-shot: it is gone for good) */
		struct epoll_event ee = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.u64 = s->id};
		if (fd >= 0 && epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ee) != 0 && errno == EEXIST)
			epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ee); /* a second stream, kept alive */
	}
	pthread_mutex_unlock(&ev_lock);
	if (!ok) {
		msg_unref(m);
		free(s->q);
		free(s->app);
		free(s->who);
		free(s);
		api_reply_error(r, 503, stopping ? "the server is stopping" : "out of memory");
		return;
	}

	/* From here the subscriber belongs to the response: stream_free
	 * unlinks and frees it, whatever happens to the connection. */
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, EV_BLOCK, stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		api_reply_error(r, 503, "cannot open the event stream");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	api_reply_empty(r, 200);
	r->response = resp;
}

/* ---- lifecycle ------------------------------------------------------- */

/* Ends the stream of the subscriber registered as id (caller holds
 * ev_lock): its client went away. */
static void
client_gone(struct api_events *h, uint64_t id)
{
	for (ev_sub *s = h->subs; s; s = s->next) {
		if (s->id == id) {
			s->closing = true;
			sub_wake(s);
			return;
		}
	}
}

static void *
ticker_main(void *arg)
{
	struct api_events *h = arg;
	struct epoll_event evs[256];
	int64_t next_tick = mz_mono_ms() + EV_TICK_MS;
	for (;;) {
		int64_t wait = next_tick - mz_mono_ms();
		int n = epoll_wait(h->epfd, evs, 256, wait > 0 ? (int)wait : 0);
		pthread_mutex_lock(&ev_lock);
		if (h->stopping) {
			pthread_mutex_unlock(&ev_lock);
			break;
		}
		for (int i = 0; i < n; i++)
			if (evs[i].data.u64 != EV_WAKE_ID)
				client_gone(h, evs[i].data.u64);
		int64_t now = mz_mono_ms();
		if (now >= next_tick) {
			next_tick = now + EV_TICK_MS;
			for (ev_sub *s = h->subs; s; s = s->next)
				if (now - s->last_write_ms >= EV_KEEPALIVE_MS)
					sub_wake(s);
		}
		pthread_mutex_unlock(&ev_lock);
	}
	return NULL;
}

void
api_events_start(mz_api *api)
{
	struct api_events *h = calloc(1, sizeof(*h));
	if (!h)
		return; /* /events then answers 503; the rest of the API works */
	h->api = api;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ee = {.events = EPOLLIN, .data.u64 = EV_WAKE_ID};
	if (h->epfd < 0 || h->wakefd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->wakefd, &ee) != 0) {
		mz_error("api: cannot set up the event stream's epoll: %s", strerror(errno));
		if (h->epfd >= 0)
			close(h->epfd);
		if (h->wakefd >= 0)
			close(h->wakefd);
		free(h);
		return; /* /events then answers 503; the rest of the API works */
	}
	if (pthread_create(&h->ticker, NULL, ticker_main, h) == 0)
		h->ticker_started = true;
	pthread_mutex_lock(&ev_lock);
	h->next_live = ev_live;
	ev_live = h;
	pthread_mutex_unlock(&ev_lock);
	api->events = h;
	if (api->engine)
		mz_engine_set_listener(api->engine, on_execution, h);
}

/* Ends every stream and resumes every suspended connection, so that
 * MHD_stop_daemon (called next) finds none suspended. The hub itself is
 * freed by api_events_free, after the daemon has stopped. */
void
api_events_stop(mz_api *api)
{
	struct api_events *h = api->events;
	if (!h)
		return;
	if (api->engine)
		mz_engine_set_listener(api->engine, NULL, NULL);
	pthread_mutex_lock(&ev_lock);
	for (struct api_events **p = &ev_live; *p; p = &(*p)->next_live) {
		if (*p == h) {
			*p = h->next_live;
			break;
		}
	}
	h->stopping = true;
	for (ev_sub *s = h->subs; s; s = s->next) {
		s->closing = true;
		sub_wake(s);
	}
	uint64_t one = 1;
	if (write(h->wakefd, &one, sizeof(one)) < 0)
		mz_warn("api: cannot wake the event-stream ticker: %s", strerror(errno));
	pthread_mutex_unlock(&ev_lock);
	if (h->ticker_started)
		pthread_join(h->ticker, NULL);
}

/* After MHD_stop_daemon: every response, hence every subscriber, is gone. */
void
api_events_free(mz_api *api)
{
	struct api_events *h = api->events;
	if (!h)
		return;
	close(h->epfd);
	close(h->wakefd);
	free(h);
	api->events = NULL;
}

const api_route api_event_routes[] = {
	{"GET", "/events", events},
	{NULL, NULL, NULL},
};
