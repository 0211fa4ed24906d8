// SPDX-License-Identifier: Apache-2.0
/*
 * TLS 1.3 records after the handshake, in userspace (see tls_records.h for why and what).
 * Record protection follows RFC 8446 §5.2-5.3: the nonce is the write IV XOR the 64-bit record
 * sequence number, the additional data is the 5-byte record header, the inner plaintext ends in
 * its real content type followed by optional zero padding. Keys come from the traffic secrets by
 * HKDF-Expand-Label (§7.1, §7.3); KeyUpdate derives the next secret with "traffic upd" (§7.2).
 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <string.h>

#include "hbone/tls_records.h"

#define REC_APPDATA	23
#define REC_HANDSHAKE	22
#define REC_ALERT	21
#define HS_NEW_TICKET	4
#define HS_KEY_UPDATE	24
#define ALERT_CLOSE	0  /* close_notify */
#define ALERT_CANCEL	90 /* user_canceled: a close_notify follows */
#define TAG_LEN		16
#define TX_KEY_LIMIT	(1ULL << 24) /* records per send key (§5.5: AES-GCM is good to 2^24.5) */
#define KEY_UPDATE_WIRE (5 + 5 + 1 + TAG_LEN)

/* HKDF-Expand-Label(secret, label, "", len): info is length, "tls13 " + label, empty context. */
static int expand_label(const struct tls_rec *r, const unsigned char *secret, const char *label,
			unsigned char *out, size_t len)
{
	unsigned char info[4 + 6 + 16];
	size_t ll = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
	    OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(r->md), 0),
	    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, r->secret_len),
	    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, 0),
	    OSSL_PARAM_END,
	};

	info[n++] = len >> 8;
	info[n++] = len & 0xff;
	info[n++] = 6 + ll;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll);
	n += 6 + ll;
	info[n++] = 0; /* no context */
	params[3].data_size = n;
	ok = kctx && EVP_KDF_derive(kctx, out, len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -EIO;
}

/* The direction's key and IV from its current secret; the sequence starts again at 0. */
static int dir_rekey(struct tls_rec *r, struct tls_rec_dir *d, int enc)
{
	unsigned char key[32];
	int err = -EIO;

	if (!d->ctx && !(d->ctx = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	if (!expand_label(r, d->secret, "key", key, r->key_len) &&
	    !expand_label(r, d->secret, "iv", d->iv, sizeof(d->iv)) &&
	    EVP_CipherInit_ex2(d->ctx, r->cipher, key, NULL, enc, NULL))
		err = 0;
	OPENSSL_cleanse(key, sizeof(key));
	d->seq = 0;
	return err;
}

/* KeyUpdate: the next secret of a direction (§7.2), and its keys. */
static int dir_update(struct tls_rec *r, struct tls_rec_dir *d, int enc)
{
	unsigned char next[TLS_REC_SECRET_MAX];

	if (expand_label(r, d->secret, "traffic upd", next, r->secret_len))
		return -EIO;
	memcpy(d->secret, next, r->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return dir_rekey(r, d, enc);
}

int tls_rec_init(struct tls_rec *r, const char *suite, const unsigned char *tx_secret,
		 const unsigned char *rx_secret, size_t secret_len)
{
	const char *cipher;
	int err;

	memset(r, 0, sizeof(*r));
	if (!strcmp(suite, "TLS_AES_128_GCM_SHA256")) {
		r->md = EVP_sha256();
		cipher = "AES-128-GCM";
		r->key_len = 16;
	} else if (!strcmp(suite, "TLS_AES_256_GCM_SHA384")) {
		r->md = EVP_sha384();
		cipher = "AES-256-GCM";
		r->key_len = 32;
	} else {
		return -EOPNOTSUPP;
	}
	r->secret_len = EVP_MD_get_size(r->md);
	if (secret_len != r->secret_len)
		return -EINVAL;
	r->cipher = EVP_CIPHER_fetch(NULL, cipher, NULL);
	if (!r->cipher)
		return -EOPNOTSUPP;
	r->alert = -1;
	memcpy(r->tx.secret, tx_secret, secret_len);
	memcpy(r->rx.secret, rx_secret, secret_len);
	err = dir_rekey(r, &r->tx, 1);
	if (!err)
		err = dir_rekey(r, &r->rx, 0);
	if (err)
		tls_rec_free(r);
	return err;
}

void tls_rec_drop_tx(struct tls_rec *r)
{
	EVP_CIPHER_CTX_free(r->tx.ctx);
	OPENSSL_cleanse(&r->tx, sizeof(r->tx));
	r->tx_update = r->peer_ask = false;
	r->tx_off = true;
}

void tls_rec_free(struct tls_rec *r)
{
	EVP_CIPHER_CTX_free(r->tx.ctx);
	EVP_CIPHER_CTX_free(r->rx.ctx);
	EVP_CIPHER_free(r->cipher);
	OPENSSL_cleanse(r, sizeof(*r));
}

static void nonce_of(const struct tls_rec_dir *d, unsigned char nonce[12])
{
	memcpy(nonce, d->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(d->seq >> (56 - 8 * i));
}

/* One record of inner type `type` carrying in[0..len) (len <= TLS_REC_MAX_PLAIN) at `out`:
 * the inner plaintext is laid out in place, then encrypted there. */
static ssize_t seal_one(struct tls_rec *r, unsigned char type, const unsigned char *in, size_t len,
			unsigned char *out)
{
	struct tls_rec_dir *d = &r->tx;
	size_t ilen = len + 1, clen = ilen + TAG_LEN;
	unsigned char nonce[12], *body = out + 5;
	int n;

	out[0] = REC_APPDATA;
	out[1] = out[2] = 3;
	out[3] = clen >> 8;
	out[4] = clen & 0xff;
	if (len)
		memcpy(body, in, len);
	body[len] = type;
	nonce_of(d, nonce);
	if (!EVP_CipherInit_ex2(d->ctx, NULL, NULL, nonce, 1, NULL) ||
	    !EVP_EncryptUpdate(d->ctx, NULL, &n, out, 5) ||
	    !EVP_EncryptUpdate(d->ctx, body, &n, body, ilen) ||
	    !EVP_EncryptFinal_ex(d->ctx, body + ilen, &n) ||
	    !EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, body + ilen))
		return -1;
	d->seq++;
	return 5 + clen;
}

/* Our KeyUpdate (never asking the peer to update: it answers only when it asked itself). */
static ssize_t key_update_out(struct tls_rec *r, unsigned char *out)
{
	static const unsigned char msg[5] = {HS_KEY_UPDATE, 0, 0, 1, 0};
	ssize_t n = seal_one(r, REC_HANDSHAKE, msg, sizeof(msg), out);

	if (n < 0 || dir_update(r, &r->tx, 1))
		return -1;
	r->tx_update = r->peer_ask = false;
	return n;
}

size_t tls_rec_seal_bound(size_t len)
{
	return len + (len / TLS_REC_MAX_PLAIN + 1) * TLS_REC_OVERHEAD + KEY_UPDATE_WIRE;
}

ssize_t tls_rec_seal_alert(struct tls_rec *r, enum tls_alert desc, unsigned char *out)
{
	/* TLS 1.3 (§6): every alert is fatal but close_notify and user_canceled; the level byte
	 * is ignored by receivers but still set as TLS 1.2 peers would read it */
	unsigned char msg[2] = {desc == TLS_ALERT_CLOSE_NOTIFY ? 1 : 2, desc};

	if (r->tx_off)
		return -1;
	return seal_one(r, REC_ALERT, msg, sizeof(msg), out);
}

ssize_t tls_rec_seal(struct tls_rec *r, const void *in, size_t len, unsigned char *out)
{
	const unsigned char *p = in;
	size_t w = 0;

	if (r->tx_off)
		return -1;
	for (;;) {
		size_t n = len < TLS_REC_MAX_PLAIN ? len : TLS_REC_MAX_PLAIN;
		ssize_t k;

		/* the KeyUpdate is the old key's last record: at most TX_KEY_LIMIT in all */
		if (r->tx_update || r->tx.seq >= TX_KEY_LIMIT - 1) {
			k = key_update_out(r, out + w);
			if (k < 0)
				return -1;
			w += k;
		}
		if (!len)
			return w;
		k = seal_one(r, REC_APPDATA, p, n, out + w);
		if (k < 0)
			return -1;
		w += k;
		p += n;
		len -= n;
	}
}

/* Refuse the record, with the alert TLS answers it with. */
static enum tls_rec_result refuse(struct tls_rec *r, int alert)
{
	r->alert = alert;
	return TLS_REC_ERR;
}

/* Handshake messages after the handshake: tickets are skipped (a client's side), KeyUpdate is
 * honoured. The alerts are §4.6.3's, §5.1's and §6.2's. */
static enum tls_rec_result post_handshake(struct tls_rec *r, const unsigned char *m, size_t len)
{
	if (!len)
		return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE); /* an empty handshake record */
	while (len) {
		size_t body;

		if (len < 4)
			return refuse(r, TLS_ALERT_DECODE_ERROR);
		body = (size_t)m[1] << 16 | m[2] << 8 | m[3];
		if (len - 4 < body)
			return refuse(r, TLS_ALERT_DECODE_ERROR); /* split across records */
		if (m[0] == HS_KEY_UPDATE) {
			/* the last message under the old key (§5.1), body: update_requested or not */
			if (body != 1)
				return refuse(r, TLS_ALERT_DECODE_ERROR);
			if (m[4] > 1)
				return refuse(r, TLS_ALERT_ILLEGAL_PARAMETER);
			if (len != 5)
				return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
			if (dir_update(r, &r->rx, 0))
				return refuse(r, -1);
			if (m[4] && !r->tx_update)
				r->tx_update = r->peer_ask = true;
		} else if (m[0] != HS_NEW_TICKET || r->server) {
			return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
		}
		m += 4 + body;
		len -= 4 + body;
	}
	return TLS_REC_SKIP;
}

/* Decrypt the record's body in place and check its tag; its inner plaintext length or -1. */
static ssize_t open_body(struct tls_rec *r, unsigned char *rec, size_t clen)
{
	struct tls_rec_dir *d = &r->rx;
	size_t len = clen - TAG_LEN;
	unsigned char nonce[12];
	int n;

	nonce_of(d, nonce);
	if (!EVP_CipherInit_ex2(d->ctx, NULL, NULL, nonce, 0, NULL) ||
	    !EVP_DecryptUpdate(d->ctx, NULL, &n, rec, 5) ||
	    !EVP_DecryptUpdate(d->ctx, rec + 5, &n, rec + 5, len) ||
	    !EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, rec + 5 + len) ||
	    EVP_DecryptFinal_ex(d->ctx, rec + 5 + len, &n) <= 0)
		return -1;
	d->seq++;
	return len;
}

/* The record's header: whether it can be a protected TLS 1.3 record at all (§5.1, §5.2). */
static enum tls_rec_result check_header(struct tls_rec *r, const unsigned char *buf, size_t clen)
{
	/* after the handshake every record is application_data, legacy version 1.2 */
	if (buf[0] != REC_APPDATA || buf[1] != 3 || buf[2] != 3)
		return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
	if (5 + clen > TLS_REC_MAX_WIRE)
		return refuse(r, TLS_ALERT_RECORD_OVERFLOW);
	if (clen < 1 + TAG_LEN)
		return refuse(r, TLS_ALERT_DECODE_ERROR);
	return TLS_REC_MORE;
}

/* What the inner plaintext buf[5 .. 5 + n) (content, type, no padding) is. */
static enum tls_rec_result inner_type(struct tls_rec *r, unsigned char *buf, size_t n)
{
	unsigned char type = buf[5 + n - 1];

	if (type == REC_APPDATA)
		return TLS_REC_DATA;
	if (type == REC_HANDSHAKE)
		return post_handshake(r, buf + 5, n - 1);
	if (type != REC_ALERT)
		return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
	if (n - 1 != 2)
		return refuse(r, TLS_ALERT_DECODE_ERROR);
	if (buf[6] == ALERT_CLOSE)
		return TLS_REC_CLOSE;
	if (buf[6] == ALERT_CANCEL)
		return TLS_REC_SKIP;
	return refuse(r, -1); /* the peer's fatal alert: nothing is answered to it */
}

enum tls_rec_result tls_rec_open(struct tls_rec *r, unsigned char *buf, size_t len, size_t *used,
				 size_t *off, size_t *plen)
{
	enum tls_rec_result res;
	size_t clen;
	ssize_t n;

	if (len < 5)
		return TLS_REC_MORE;
	clen = (size_t)buf[3] << 8 | buf[4];
	if (check_header(r, buf, clen) == TLS_REC_ERR)
		return TLS_REC_ERR;
	if (len < 5 + clen)
		return TLS_REC_MORE;
	n = open_body(r, buf, clen);
	if (n < 0)
		return refuse(r, TLS_ALERT_BAD_RECORD_MAC);
	if (n > TLS_REC_MAX_PLAIN + 1) /* the inner plaintext, padding included (§5.4) */
		return refuse(r, TLS_ALERT_RECORD_OVERFLOW);
	while (n > 0 && !buf[5 + n - 1]) /* zero padding, then the real content type */
		n--;
	if (n <= 0)
		return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
	*used = 5 + clen;
	*off = 5;
	*plen = n - 1;
	res = inner_type(r, buf, n);
	if (res == TLS_REC_DATA && *plen) {
		r->nodata = 0;
	} else if (res != TLS_REC_ERR && res != TLS_REC_CLOSE && ++r->nodata > TLS_REC_NODATA_MAX) {
		/* KeyUpdates, tickets, empty records: each costs a decryption and says nothing */
		return refuse(r, TLS_ALERT_UNEXPECTED_MESSAGE);
	}
	return res;
}
