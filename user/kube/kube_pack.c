// SPDX-License-Identifier: Apache-2.0
/*
 * The store's form of an object (struct kube_rec, one allocation): its key, its resourceVersion
 * and its compact JSON deflated. Not a json-c tree: a tree costs a hash table per JSON object,
 * about 10 KB per pod, and 50,000 pods then took 500 MB. Deflated, because every pod and
 * EndpointSlice of the cluster is held on every node: with a preset dictionary of the words API
 * objects repeat (keys, kinds, condition types) a trimmed pod of ~480 bytes of JSON keeps ~150.
 * Objects are inflated and parsed again only when a snapshot or a slice change reads them.
 *
 * zlib streams are kept per thread (watchers pack, the agent unpacks): setting one up costs
 * more than deflating a small object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "kube/kube_internal.h"
#include "kube/kube_slab.h"

/* What API objects repeat, the most frequent last (deflate finds near matches cheaper). */
static const char pack_dict[] =
    "\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\",\"spec\":{\"hosts\":"
    "[\"\"],\"http\":[{\"route\":[{\"destination\":{\"host\":\"\",\"subset\":\"v1\"},"
    "\"weight\":90},{\"destination\":{\"host\":\"\",\"subset\":\"v2\"},\"weight\":10}]}]}"
    "\"kind\":\"DestinationRule\",\"trafficPolicy\":{\"subsets\":[{\"name\":\"v1\","
    "\"labels\":{\"version\":\"v1\"}},{\"name\":\"v2\",\"labels\":{\"version\":\"v2\"}}]"
    "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"\",\"namespace\":"
    "\"\",\"uid\":\"\",\"resourceVersion\":\"\",\"labels\":{\"app\":\"\"}},\"spec\":{"
    "\"clusterIP\":\"10.96.\",\"clusterIPs\":[\"10.96.\"],\"type\":\"ClusterIP\","
    "\"selector\":{\"app\":\"\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":"
    "\"http\",\"protocol\":\"TCP\"},{\"name\":\"grpc\",\"port\":9090,\"targetPort\":\"grpc\","
    "\"protocol\":\"TCP\"}]}}"
    "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
    "\"name\":\"\",\"namespace\":\"\",\"resourceVersion\":\"\",\"labels\":{"
    "\"kubernetes.io/service-name\":\"\",\"endpointslice.kubernetes.io/managed-by\":"
    "\"endpointslice-controller.k8s.io\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":"
    "\"http\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":["
    "{\"addresses\":[\"10.\"],\"conditions\":{\"ready\":true,\"serving\":true,"
    "\"terminating\":false},\"nodeName\":\"node-\",\"targetRef\":{\"kind\":\"Pod\","
    "\"name\":\"\",\"namespace\":\"\",\"uid\":\"\"}}"
    "{\"addresses\":[\"10.\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node-\","
    "\"targetRef\":{\"kind\":\"Pod\",\"name\":\"\",\"namespace\":\"\"}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"\",\"namespace\":\"\","
    "\"uid\":\"00000000-0000-4000-8000-\",\"resourceVersion\":\"\",\"labels\":{\"app\":\"\","
    "\"version\":\"v1\",\"pod-template-hash\":\"\"}},\"spec\":{\"nodeName\":\"node-\","
    "\"serviceAccountName\":\"\",\"serviceAccount\":\"\",\"containers\":[{\"ports\":[{"
    "\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}]}]},\"status\":{"
    "\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},"
    "{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"ContainersReady\",\"status\":"
    "\"True\"},{\"type\":\"PodScheduled\",\"status\":\"True\"}],\"hostIP\":\"192.168.\","
    "\"hostIPs\":[{\"ip\":\"192.168.\"}],\"podIP\":\"10.\",\"podIPs\":[{\"ip\":\"10.\"}]}}";

/* An 8 KB window holds the dictionary and most objects whole; the state is then 64 KB per
 * watcher thread instead of zlib's default 256 KB. */
#define PACK_WBITS    13
#define PACK_MEMLEVEL 6

static __thread z_stream zd, zi;
static __thread bool zd_ok, zi_ok;

/* `in` deflated into a new buffer (*out, *outlen); false on OOM. */
static bool pack_deflate(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	uLong cap;

	if (!zd_ok) {
		if (deflateInit2(&zd, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -PACK_WBITS, PACK_MEMLEVEL,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return false;
		zd_ok = true;
	} else if (deflateReset(&zd) != Z_OK) {
		return false;
	}
	deflateSetDictionary(&zd, (const Bytef *)pack_dict, sizeof(pack_dict) - 1);
	cap = deflateBound(&zd, len);
	if (!(*out = malloc(cap)))
		return false;
	zd.next_in = (Bytef *)in;
	zd.avail_in = (uInt)len;
	zd.next_out = *out;
	zd.avail_out = (uInt)cap;
	if (deflate(&zd, Z_FINISH) != Z_STREAM_END) {
		free(*out);
		return false;
	}
	*outlen = cap - zd.avail_out;
	return true;
}

/* The JSON text back (`len` bytes deflated into `in`), NUL-terminated (caller frees); NULL
 * when unreadable or on OOM. */
static char *pack_inflate(const unsigned char *in, size_t inlen, size_t len)
{
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	if (!zi_ok) {
		if (inflateInit2(&zi, -PACK_WBITS) != Z_OK)
			goto fail;
		zi_ok = true;
	} else if (inflateReset(&zi) != Z_OK) {
		goto fail;
	}
	inflateSetDictionary(&zi, (const Bytef *)pack_dict, sizeof(pack_dict) - 1);
	zi.next_in = (Bytef *)in;
	zi.avail_in = (uInt)inlen;
	zi.next_out = (Bytef *)out;
	zi.avail_out = (uInt)len;
	if (inflate(&zi, Z_FINISH) != Z_STREAM_END || zi.avail_out)
		goto fail;
	out[len] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/*
 * The resourceVersion is the record's own field: out of the deflated JSON while it is written
 * (a number deflate cannot predict, on every object of the cluster: 0.7 MB of the store with
 * 10,000 Services), put back into `o` after, and into each object kube_obj_unpack returns.
 */
static struct json_object *rv_take(struct json_object *o)
{
	struct json_object *md, *v;

	if (!json_object_object_get_ex(o, "metadata", &md) ||
	    !json_object_object_get_ex(md, "resourceVersion", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return NULL;
	json_object_get(v);
	json_object_object_del(md, "resourceVersion");
	return v;
}

static void rv_put(struct json_object *o, struct json_object *v)
{
	struct json_object *md;

	if (v && json_object_object_get_ex(o, "metadata", &md) &&
	    json_object_is_type(md, json_type_object))
		json_object_object_add(md, "resourceVersion", v);
	else
		json_object_put(v);
}

/* `o`'s compact JSON without its resourceVersion, deflated; false on OOM. */
static bool pack_text(struct json_object *o, unsigned char **z, size_t *zlen, size_t *tlen)
{
	struct json_object *rv = rv_take(o);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	bool ok = text && pack_deflate(text, *tlen = strlen(text), z, zlen);

	rv_put(o, rv);
	return ok;
}

struct kube_rec *kube_obj_pack(struct json_object *o, const char *key)
{
	const char *rv = kube_obj_rv(o);
	size_t rvlen = rv ? strlen(rv) : 0, klen = strlen(key), tlen = 0, zlen;
	struct kube_rec *r;
	unsigned char *z;

	if (klen + rvlen + 2 > UINT16_MAX)
		return NULL;
	if (!pack_text(o, &z, &zlen, &tlen))
		return NULL;
	r = kube_slab_alloc(sizeof(*r) + klen + 1 + rvlen + 1 + zlen);
	if (r) {
		r->refs = 1;
		r->tlen = (uint32_t)tlen;
		r->zlen = (uint32_t)zlen;
		r->rv_off = (uint16_t)(klen + 1);
		r->z_off = (uint16_t)(klen + 1 + rvlen + 1);
		memcpy(r->data, key, klen + 1);
		memcpy(r->data + r->rv_off, rv ? rv : "", rvlen + 1);
		memcpy(r->data + r->z_off, z, zlen);
	}
	free(z);
	return r;
}

size_t kube_rec_size(const struct kube_rec *r)
{
	return sizeof(*r) + r->z_off + r->zlen;
}

bool kube_rec_rv_is(const struct kube_rec *r, const char *rv)
{
	return rv && *rv && !strcmp(r->data + r->rv_off, rv);
}

struct json_object *kube_obj_unpack(const struct kube_rec *r)
{
	struct json_object *o;
	char *text;

	text = pack_inflate((const unsigned char *)r->data + r->z_off, r->zlen, r->tlen);
	if (!text)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	if (o && r->data[r->rv_off] &&
	    !json_object_object_get_ex(json_object_object_get(o, "metadata"), "resourceVersion",
				       NULL))
		rv_put(o, json_object_new_string(r->data + r->rv_off));
	return o;
}

void kube_pack_thread_end(void)
{
	if (zd_ok)
		deflateEnd(&zd);
	if (zi_ok)
		inflateEnd(&zi);
	zd_ok = zi_ok = false;
}
