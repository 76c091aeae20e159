/* api_nodes.c - GET /nodes: the servers sharing this store, as its node
 * registry has them (each heart-beats every second; one silent for
 * MZ_NODE_LEASE_MS is shown dead). */
#include "api/api_int.h"

static void
list_nodes(api_req *r)
{
	mz_store *st = api_store(r);
	json_t *nodes = NULL;
	mz_err err = {0};
	if (!st)
		return;
	if (mz_node_list(st, mz_now_ms(), MZ_NODE_LEASE_MS, &nodes, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		json_object_del(n, "startedAt");
	api_reply_json(r, 200, nodes);
}

const api_route api_node_routes[] = {
	{"GET", "/nodes", list_nodes},
	{NULL, NULL, NULL},
};
