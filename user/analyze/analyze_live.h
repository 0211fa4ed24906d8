/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `skiffctl analyze --live`: the objects of the snapshot the running skiffd has in force, from its
 * admin endpoint /config_objects (agent_objects.c), with the file:line each was read from. Lines
 * are the object's own line: a message about a live object points at the object, not the field.
 */
#ifndef SKIFF_ANALYZE_LIVE_H
#define SKIFF_ANALYZE_LIVE_H

#include "analyze/analyze.h"

struct an_live {
	char *node;
	char **enrolled; /* "ns/pod" of the pods skiffd enrolled (found their cgroup) */
	size_t nenrolled;
};

/* GET http://ADDR/config_objects into `set` and `live`. Returns 0, or -1 after saying why on
 * `err` (skiffd not reachable, no configuration applied yet, an answer cut short). */
int analyze_live_fetch(const char *addr, struct ydoc_set *set, struct an_live *live, FILE *err);
void analyze_live_free(struct an_live *live);
/* SKF0004: mesh pods of skiffd's node that skiffd has not enrolled. */
void analyze_live_pods(const struct model *m, const struct an_live *live, struct an_result *r);

#endif
