// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's TLS 1.3 record layer (user/hbone/tls_records.c) as the receiving side of an HBONE
 * connection after the handshake: record headers, lengths, the AEAD, padding, the inner content
 * type, post-handshake messages (NewSessionTicket, KeyUpdate asked and not), alerts.
 *
 * Records a fuzzer writes by chance never authenticate, so most are sealed here with the
 * receiver's own current key (its rx context encrypts as well as it decrypts; after a KeyUpdate
 * it holds the peer's next key): the fuzzer chooses what is inside. The input is a list of
 * operations, each a first byte (which) and its operands:
 *   0 SEALED  type, pad, n (2 bytes), n bytes: one record whose inner plaintext is the bytes,
 *             the inner content type `type` and `pad` zeros
 *   1 RAW     n (2 bytes), n bytes: received as they are (headers, forged records, garbage)
 *   2 TAMPER  like SEALED, then one byte of it flipped (at the index a third operand says)
 *   3 SEND    n (2 bytes): our side seals n bytes of data (a KeyUpdate owed goes first)
 * Received bytes collect in a buffer read as the HBONE connection reads its socket: whole
 * records off the front, the rest kept for the next read. Either suite, by the input's parity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "hbone/tls_records.h"

#define RBUF_MAX (4 * TLS_REC_MAX_WIRE)

struct rx {
	struct tls_rec r;
	unsigned char buf[RBUF_MAX];
	size_t len;
	bool over; /* an error or close_notify: the connection ends */
};

/* Seal one record under r->rx (the peer's current send key), as the peer would. */
static size_t seal_as_peer(struct tls_rec *r, unsigned char type, size_t pad,
			   const unsigned char *in, size_t n, unsigned char *out)
{
	struct tls_rec_dir *d = &r->rx;
	size_t ilen = n + 1 + pad, clen = ilen + 16;
	unsigned char nonce[12];
	int k;

	out[0] = 23;
	out[1] = out[2] = 3;
	out[3] = (unsigned char)(clen >> 8);
	out[4] = (unsigned char)clen;
	memcpy(out + 5, in, n);
	out[5 + n] = type;
	memset(out + 6 + n, 0, pad);
	memcpy(nonce, d->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(d->seq >> (56 - 8 * i));
	if (!EVP_CipherInit_ex2(d->ctx, NULL, NULL, nonce, 1, NULL) ||
	    !EVP_EncryptUpdate(d->ctx, NULL, &k, out, 5) ||
	    !EVP_EncryptUpdate(d->ctx, out + 5, &k, out + 5, (int)ilen) ||
	    !EVP_EncryptFinal_ex(d->ctx, out + 5 + ilen, &k) ||
	    !EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + ilen))
		abort();
	return 5 + clen;
}

/* What the connection does with its buffer after a read: every whole record off the front. */
static void drain(struct rx *x)
{
	size_t used, off, plen;

	while (!x->over) {
		enum tls_rec_result res = tls_rec_open(&x->r, x->buf, x->len, &used, &off, &plen);

		if (res == TLS_REC_MORE)
			return;
		if (res == TLS_REC_ERR || res == TLS_REC_CLOSE) {
			x->over = true;
			return;
		}
		if (used > x->len || (res == TLS_REC_DATA && off + plen > used)) {
			fprintf(stderr, "record of %zu bytes (data %zu+%zu) in a buffer of %zu\n",
				used, off, plen, x->len);
			abort();
		}
		memmove(x->buf, x->buf + used, x->len - used);
		x->len -= used;
	}
}

static void receive(struct rx *x, const unsigned char *p, size_t n)
{
	if (x->over || n > RBUF_MAX - x->len) {
		x->over = true; /* the connection would have read them in several reads */
		return;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	drain(x);
}

static void send_data(struct rx *x, size_t n)
{
	static unsigned char in[1 << 16];
	unsigned char *out = malloc(tls_rec_seal_bound(n));

	if (!out || tls_rec_seal(&x->r, in, n, out) < 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char tx[48] = "skiff fuzz: the send secret, 48 bytes long....";
	static const unsigned char rx[48] = "skiff fuzz: the receive secret, 48 bytes long.";
	static unsigned char rec[TLS_REC_MAX_WIRE + 1024];
	bool sha384 = size & 1;
	struct rx *x = calloc(1, sizeof(*x));
	size_t i = 0;

	if (!x || tls_rec_init(&x->r, sha384 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256",
			       tx, rx, sha384 ? 48 : 32))
		abort();
	while (i < size && !x->over) {
		unsigned op = data[i++] % 4, type = 0, pad = 0, n, at = 0;
		size_t len;

		if (op == 0 || op == 2) {
			if (size - i < 2)
				break;
			type = data[i++];
			pad = data[i++];
		}
		if (size - i < 2)
			break;
		n = (unsigned)data[i] << 8 | data[i + 1];
		i += 2;
		if (op == 3) {
			send_data(x, n);
			continue;
		}
		if (n > size - i)
			n = (unsigned)(size - i);
		if (op == 1) {
			receive(x, data + i, n);
			i += n;
			continue;
		}
		if (n > TLS_REC_MAX_PLAIN + 200)
			n = TLS_REC_MAX_PLAIN + 200;
		len = seal_as_peer(&x->r, (unsigned char)type, pad, data + i, n, rec);
		i += n;
		if (op == 2 && i < size) {
			at = data[i++];
			rec[at % len] ^= 0x40;
		}
		receive(x, rec, len);
	}
	tls_rec_free(&x->r);
	free(x);
	return 0;
}
