// SPDX-License-Identifier: Apache-2.0
/*
 * The API source stores a pod as the fields the Pod parser reads (kube_trim.c). A pod in the
 * shape an API server returns it (managed fields, owner references, annotations, volumes, env,
 * probes, resources, container statuses, timestamps on conditions) must load into exactly the
 * model the whole object gives, and what is stored (trimmed and deflated, kube_pack.c) must be a
 * fraction of the whole. Other kinds keep their spec and status and the metadata a parser
 * reads, and read back the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/kube_internal.h"
#include "kube/kube_json.h"
#include "model/model.h"

/* Written for this test in the shape of `kubectl get pod -o json` of a Deployment's pod. */
static const char *const api_pod =
    "{\"metadata\":{\"name\":\"reviews-v2-5b6c9d7f8-x2kqz\",\"generateName\":"
    "\"reviews-v2-5b6c9d7f8-\",\"namespace\":\"bookinfo\",\"uid\":"
    "\"6f1d2c3b-8e4a-4c1d-9b2a-0c5e7d9f1a2b\",\"resourceVersion\":\"48213\","
    "\"creationTimestamp\":\"2026-12-01T10:00:00Z\",\"labels\":{\"app\":\"reviews\","
    "\"version\":\"v2\",\"pod-template-hash\":\"5b6c9d7f8\"},\"annotations\":{"
    "\"kubectl.kubernetes.io/restartedAt\":\"2026-12-01T09:59:00Z\"},\"ownerReferences\":[{"
    "\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"reviews-v2-5b6c9d7f8\","
    "\"uid\":\"1a2b3c4d-0000-4000-8000-000000000001\",\"controller\":true,"
    "\"blockOwnerDeletion\":true}],\"managedFields\":[{\"manager\":\"kube-controller-manager\","
    "\"operation\":\"Update\",\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
    "\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}}}}]},"
    "\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-abcde\",\"projected\":{\"sources\":[{"
    "\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}}],"
    "\"defaultMode\":420}}],\"containers\":[{\"name\":\"reviews\",\"image\":"
    "\"docker.io/istio/examples-bookinfo-reviews-v2:1.20.1\",\"ports\":[{\"name\":\"http\","
    "\"containerPort\":9080,\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"LOG_DIR\",\"value\":"
    "\"/tmp/logs\"}],\"resources\":{\"requests\":{\"cpu\":\"100m\"}},\"volumeMounts\":[{"
    "\"name\":\"kube-api-access-abcde\",\"readOnly\":true,\"mountPath\":"
    "\"/var/run/secrets/kubernetes.io/serviceaccount\"}],\"readinessProbe\":{\"httpGet\":{"
    "\"path\":\"/health\",\"port\":9080}},\"imagePullPolicy\":\"IfNotPresent\"}],"
    "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
    "\"ClusterFirst\",\"serviceAccountName\":\"bookinfo-reviews\",\"serviceAccount\":"
    "\"bookinfo-reviews\",\"nodeName\":\"node-b\",\"securityContext\":{},\"schedulerName\":"
    "\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
    "\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
    "\"priority\":0,\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"},"
    "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
    "\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-12-01T10:00:00Z\"},{"
    "\"type\":\"Ready\",\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":"
    "\"2026-12-01T10:00:05Z\",\"reason\":\"ContainersNotReady\"}],\"hostIP\":\"192.0.2.2\","
    "\"hostIPs\":[{\"ip\":\"192.0.2.2\"}],\"podIP\":\"10.2.0.31\",\"podIPs\":[{\"ip\":"
    "\"10.2.0.31\"},{\"ip\":\"fd00:2::31\"}],\"startTime\":\"2026-12-01T10:00:00Z\","
    "\"containerStatuses\":[{\"name\":\"reviews\",\"state\":{\"running\":{\"startedAt\":"
    "\"2026-12-01T10:00:03Z\"}},\"ready\":false,\"restartCount\":0,\"image\":"
    "\"docker.io/istio/examples-bookinfo-reviews-v2:1.20.1\",\"imageID\":\"\",\"started\":true"
    "}],\"qosClass\":\"Burstable\"}}";

static struct kube_watcher watcher_of(const char *kind)
{
	struct kube_watcher w = {0};

	for (size_t i = 0; i < kube_nkinds; i++)
		if (!strcmp(kube_kinds[i].kind, kind))
			w.k = &kube_kinds[i];
	assert_non_null(w.k);
	return w;
}

static void load_one(struct json_object *o, struct model *m)
{
	struct ydoc_set set = {0};
	struct diag d = {0};

	kube_json_add_doc(&set, o);
	if (model_load_set(&set, m, &d))
		diag_print(&d);
	assert_int_equal(d.errors, 0);
	diag_free(&d);
}

static void assert_same_pod(const struct m_pod *a, const struct m_pod *b)
{
	assert_string_equal(a->meta.name, b->meta.name);
	assert_string_equal(a->meta.ns, b->meta.ns);
	assert_string_equal(k8s_pod_uid(a), k8s_pod_uid(b));
	assert_int_equal(a->meta.labels.n, b->meta.labels.n);
	for (size_t i = 0; i < a->meta.labels.n; i++) {
		assert_string_equal(a->meta.labels.v[i].key, b->meta.labels.v[i].key);
		assert_string_equal(a->meta.labels.v[i].val, b->meta.labels.v[i].val);
	}
	assert_string_equal(a->node_name, b->node_name);
	assert_string_equal(a->service_account, b->service_account);
	assert_int_equal(a->nips, b->nips);
	for (size_t i = 0; i < a->nips; i++)
		assert_string_equal(a->ips[i], b->ips[i]);
	assert_int_equal(a->nhost_ips, b->nhost_ips);
	assert_string_equal(a->host_ips[0], b->host_ips[0]);
	assert_int_equal(a->ready, b->ready);
	assert_int_equal(a->host_network, b->host_network);
	assert_int_equal(a->nports, b->nports);
	for (size_t i = 0; i < a->nports; i++) {
		assert_int_equal(a->ports[i].port, b->ports[i].port);
		assert_int_equal(a->ports[i].proto, b->ports[i].proto);
		assert_string_equal(a->ports[i].name, b->ports[i].name);
	}
}

static void pod_trimmed_loads_the_same(void **state)
{
	struct kube_watcher w = watcher_of("Pod");
	struct json_object *whole = json_tokener_parse(api_pod), *trimmed, *back;
	struct kube_rec *packed;
	struct model mw, mt;
	size_t whole_len;

	(void)state;
	assert_non_null(whole);
	/* the whole object as the model would read it: what the API sends, less managed fields */
	json_object_object_del(json_object_object_get(whole, "metadata"), "managedFields");
	json_object_object_add(whole, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(whole, "kind", json_object_new_string("Pod"));
	whole_len = strlen(json_object_to_json_string(whole));
	trimmed = json_tokener_parse(api_pod);
	kube_obj_normalise(&w, trimmed); /* what the watcher does before storing */
	packed = kube_obj_pack(trimmed, "default/web-0");
	assert_non_null(packed);
	assert_string_equal(kube_rec_key(packed), "default/web-0");
	assert_true(kube_rec_rv_is(packed, "48213"));
	assert_false(kube_rec_rv_is(packed, "4821"));
	back = kube_obj_unpack(packed);
	assert_non_null(back);
	/* trimmed and deflated: a fraction of the whole */
	assert_true(sizeof(*packed) + packed->z_off + packed->zlen < whole_len / 4);
	assert_null(strstr(json_object_to_json_string(back), "volumes"));
	assert_null(strstr(json_object_to_json_string(back), "lastTransitionTime"));
	assert_non_null(strstr(json_object_to_json_string(back), "pod-template-hash"));
	load_one(whole, &mw);
	load_one(back, &mt);
	assert_int_equal(mw.npods, 1);
	assert_int_equal(mt.npods, 1);
	assert_false(mw.pods[0].ready); /* the Ready condition, not Initialized, decides */
	assert_int_equal(mw.pods[0].nips, 2);
	assert_same_pod(&mw.pods[0], &mt.pods[0]);
	model_free(&mw);
	model_free(&mt);
	json_object_put(whole);
	json_object_put(trimmed);
	kube_rec_unref(packed);
	json_object_put(back);
}

/* Other kinds keep their spec and status whole, and the metadata a parser reads: a Service's
 * annotations and labels stay readable; what the server adds to every object goes. */
static void other_kinds_kept_whole(void **state)
{
	struct kube_watcher w = watcher_of("Service");
	const char *svc = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"annotations\":{"
			  "\"x\":\"y\"},\"labels\":{\"app\":\"a\"},\"resourceVersion\":\"9\","
			  "\"uid\":\"6f1d2c3b-8e4a-4c1d-9b2a-0c5e7d9f1a2b\",\"creationTimestamp\":"
			  "\"2026-12-01T10:00:00Z\",\"generation\":1,\"ownerReferences\":[],"
			  "\"managedFields\":[{\"manager\":\"m\"}]},\"spec\":{\"ports\":[{\"port\":"
			  "80}],\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":{}}}";
	const char *kept[] = {
	    "annotations",  "\"x\":\"y\"", "\"app\":\"a\"",  "\"resourceVersion\":\"9\"",
	    "loadBalancer", "ClusterIP",   "\"name\":\"a\"", "\"namespace\":\"b\""};
	const char *gone[] = {"uid", "creationTimestamp", "generation", "ownerReferences",
			      "managedFields"};
	struct json_object *o = json_tokener_parse(svc), *back;
	struct kube_rec *packed;
	const char *text;

	(void)state;

	kube_obj_normalise(&w, o);
	packed = kube_obj_pack(o, "default/svc");
	back = kube_obj_unpack(packed);
	assert_non_null(back);
	text = json_object_to_json_string_ext(back, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(text, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (!strstr(text, kept[i]))
			fail_msg("%s missing from %s", kept[i], text);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strstr(text, gone[i]))
			fail_msg("%s still in %s", gone[i], text);
	json_object_put(o);
	kube_rec_unref(packed);
	json_object_put(back);
}

/* An object much bigger than the compression window (a slice of 1,000 endpoints) reads back
 * the same, and so does one that compresses to a few bytes; both with their resourceVersion,
 * which is stored apart from the text. */
static void big_and_tiny_objects_read_back(void **state)
{
	struct kube_watcher w = watcher_of("EndpointSlice");
	struct json_object *o = json_tokener_parse("{\"metadata\":{\"name\":\"s\",\"namespace\":"
						   "\"n\",\"resourceVersion\":\"7\"},"
						   "\"endpoints\":[]}");
	struct json_object *eps = json_object_object_get(o, "endpoints"), *back;
	struct kube_rec *packed;
	char ip[32];

	(void)state;
	kube_obj_normalise(&w, o);
	for (int pass = 0; pass < 2; pass++) {
		packed = kube_obj_pack(o, "default/slice");
		assert_true(kube_rec_rv_is(packed, "7"));
		assert_false(kube_rec_rv_is(packed, "8"));
		/* the resourceVersion is the record's field, not in its deflated text */
		assert_int_equal(packed->tlen,
				 strlen(json_object_to_json_string_ext(
				     o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) -
				     strlen(",\"resourceVersion\":\"7\""));
		back = kube_obj_unpack(packed);
		assert_non_null(back);
		assert_string_equal(json_object_to_json_string(back),
				    json_object_to_json_string(o));
		kube_rec_unref(packed);
		json_object_put(back);
		for (int i = 0; i < 1000; i++) {
			struct json_object *e = json_object_new_object(),
					   *a = json_object_new_array();

			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i % 7, i / 250, i % 250);
			json_object_array_add(a, json_object_new_string(ip));
			json_object_object_add(e, "addresses", a);
			json_object_array_add(eps, e);
		}
	}
	assert_true(strlen(json_object_to_json_string(o)) > 16384);
	json_object_put(o);
}

/* A pod of another node is stored without its uid (only a local pod's cgroup is found by it);
 * this node's pods, and every pod when the source does not know its node, keep it. */
static void other_nodes_pods_lose_their_uid(void **state)
{
	const char *nodes[] = {"node-a", "node-b", NULL};
	const bool keeps[] = {false, true, true};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct kube_source ks = {.o = {.node = nodes[i]}};
		struct kube_watcher w = watcher_of("Pod");
		struct json_object *o = json_tokener_parse(api_pod), *md;
		struct model m;

		w.ks = &ks;
		kube_obj_normalise(&w, o);
		md = json_object_object_get(o, "metadata");
		assert_int_equal(json_object_object_get_ex(md, "uid", NULL), keeps[i]);
		assert_true(json_object_object_get_ex(md, "name", NULL));
		load_one(o, &m);
		assert_int_equal(m.npods, 1);
		assert_string_equal(m.pods[0].node_name, "node-b");
		if (keeps[i])
			assert_string_equal(k8s_pod_uid(&m.pods[0]),
					    "6f1d2c3b-8e4a-4c1d-9b2a-0c5e7d9f1a2b");
		else
			assert_null(k8s_pod_uid(&m.pods[0]));
		model_free(&m);
		json_object_put(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pod_trimmed_loads_the_same),
	    cmocka_unit_test(other_nodes_pods_lose_their_uid),
	    cmocka_unit_test(other_kinds_kept_whole),
	    cmocka_unit_test(big_and_tiny_objects_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
