/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TLS 1.3 record layer for after the handshake: what kTLS does in the kernel, done here where
 * the kernel has no kTLS. OpenSSL does the handshake; its traffic secrets (captured through the
 * keylog callback, never written anywhere) then seed one AES-GCM context per direction, and each
 * record costs one nonce, one seal or open, and no trip through libssl's record machinery
 * (RFC 8446 §5: per-record nonce, additional data = the record header, inner content type).
 *
 * Post-handshake messages: NewSessionTicket is skipped on a client (nothing resumes) and refused
 * on a server (only servers send them), KeyUpdate is honoured (the receive key moves on; when the
 * peer asks, our next output starts with our own KeyUpdate), close_notify is the end of the
 * stream, any other alert or message is an error. More than TLS_REC_NODATA_MAX records in a row
 * without application data (KeyUpdates, tickets, empty records) are refused, as libssl refuses
 * them: each costs the receiver a decryption and carries nothing. The send side updates its own
 * key before a key has sealed 2^24 records (RFC 8446 §5.5 bounds AES-GCM at 2^24.5). Handshake
 * messages must not be split across records (no TLS stack here does that).
 *
 * A refused record leaves the alert TLS says to answer with in tls_rec_alert(); tls_rec_seal_alert
 * seals it (and close_notify, when we end the connection ourselves).
 */
#ifndef SKIFF_HBONE_TLS_RECORDS_H
#define SKIFF_HBONE_TLS_RECORDS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_REC_MAX_PLAIN  16384			 /* a record's plaintext at most */
#define TLS_REC_OVERHEAD   22				 /* header 5, inner type 1, tag 16 */
#define TLS_REC_MAX_WIRE   (5 + TLS_REC_MAX_PLAIN + 256) /* the largest record a peer may send */
#define TLS_REC_SECRET_MAX 48				 /* SHA-384 */
#define TLS_REC_NODATA_MAX 32 /* records in a row without application data (libssl's limit) */
#define TLS_REC_ALERT_WIRE (5 + 2 + 1 + 16) /* a sealed alert record */
/* Where the kernel seals (kTLS), its send key cannot be renewed (no rekey on the kernels skiff
 * runs on): the connection is retired (GOAWAY) once it may have sealed this many records, far
 * below AES-GCM's 2^24.5. */
#define TLS_REC_KTLS_RETIRE (1ULL << 23)
#define TLS_REC_KTLS_END    ((1ULL << 24) - (1ULL << 20)) /* ... and ended, streams or not */

/* Alert descriptions (RFC 8446 §6) skiffd sends. */
enum tls_alert {
	TLS_ALERT_CLOSE_NOTIFY = 0,
	TLS_ALERT_UNEXPECTED_MESSAGE = 10,
	TLS_ALERT_BAD_RECORD_MAC = 20,
	TLS_ALERT_RECORD_OVERFLOW = 22,
	TLS_ALERT_ILLEGAL_PARAMETER = 47,
	TLS_ALERT_DECODE_ERROR = 50,
};

/* One direction's keys: the traffic secret (for KeyUpdate), the cipher context and the nonce. */
struct tls_rec_dir {
	EVP_CIPHER_CTX *ctx;
	unsigned char secret[TLS_REC_SECRET_MAX];
	unsigned char iv[12];
	uint64_t seq; /* records under the current key */
};

struct tls_rec {
	const EVP_MD *md; /* the suite's hash: SHA-256 or SHA-384 */
	EVP_CIPHER *cipher;
	size_t secret_len, key_len;
	struct tls_rec_dir tx, rx;
	bool tx_update;	 /* a KeyUpdate goes out (then the send key moves on) before more data */
	bool peer_ask;	 /* ... and it was the peer who asked (it must not ask back) */
	bool server;	 /* the server's side: a NewSessionTicket is an unexpected_message */
	bool tx_off;	 /* the send key was dropped (the kernel sends): nothing may be sealed */
	unsigned nodata; /* records opened in a row without application data */
	int alert;	 /* after TLS_REC_ERR: the alert to answer with; -1: none (the peer's own
			  * fatal alert, or nothing refused yet) */
};

/* What tls_rec_open found. */
enum tls_rec_result {
	TLS_REC_ERR = -1,  /* malformed, forged, or a fatal alert: close the connection */
	TLS_REC_MORE = 0,  /* no whole record at the front of the buffer yet */
	TLS_REC_DATA = 1,  /* application data (possibly empty) */
	TLS_REC_SKIP = 2,  /* a post-handshake message, handled */
	TLS_REC_CLOSE = 3, /* close_notify */
};

/*
 * Key both directions from the traffic secrets. `suite`: the IANA name OpenSSL reports
 * (TLS_AES_128_GCM_SHA256 or TLS_AES_256_GCM_SHA384; -EOPNOTSUPP for any other). The secrets are
 * copied; the caller wipes its own. 0 or negative errno.
 */
int tls_rec_init(struct tls_rec *r, const char *suite, const unsigned char *tx_secret,
		 const unsigned char *rx_secret, size_t secret_len);
/* The server's side of the connection: tickets from the peer are refused. Call after init. */
static inline void tls_rec_set_server(struct tls_rec *r, bool server)
{
	r->server = server;
}
/* Where the kernel seals what is sent: wipe the send key and its secret, so no later seal here
 * can reuse a nonce the kernel used; tls_rec_seal and tls_rec_seal_alert then fail. */
void tls_rec_drop_tx(struct tls_rec *r);
/* Free the contexts and wipe every secret. Safe on a zeroed or already freed struct. */
void tls_rec_free(struct tls_rec *r);

/* Bytes tls_rec_seal may write for `len` bytes of plaintext (KeyUpdate included). */
size_t tls_rec_seal_bound(size_t len);
/*
 * Seal `len` bytes (any length; 0 only flushes a pending KeyUpdate) into records at `out`, which
 * has room for tls_rec_seal_bound(len). Returns the bytes written, or -1 (cipher failure).
 */
ssize_t tls_rec_seal(struct tls_rec *r, const void *in, size_t len, unsigned char *out);
/*
 * Open the record at the front of buf[0..len) in place. On TLS_REC_DATA the plaintext is
 * buf[*off .. *off + *plen); *used is the record's whole size on every result but TLS_REC_MORE
 * and TLS_REC_ERR.
 */
enum tls_rec_result tls_rec_open(struct tls_rec *r, unsigned char *buf, size_t len, size_t *used,
				 size_t *off, size_t *plen);
/*
 * Seal one alert record at `out` (TLS_REC_ALERT_WIRE bytes): close_notify as a warning, anything
 * else fatal. A pending KeyUpdate stays pending (it must precede data, not alerts). Returns the
 * bytes written, or -1 (the send key is dropped, or a cipher failure).
 */
ssize_t tls_rec_seal_alert(struct tls_rec *r, enum tls_alert desc, unsigned char *out);
/* After TLS_REC_ERR: the alert to send, or -1 when none is owed (the peer sent a fatal one). */
static inline int tls_rec_alert(const struct tls_rec *r)
{
	return r->alert;
}
/* Something must be sent even with no data (a KeyUpdate): call tls_rec_seal with len 0. */
static inline bool tls_rec_pending(const struct tls_rec *r)
{
	return r->tx_update;
}

#endif
