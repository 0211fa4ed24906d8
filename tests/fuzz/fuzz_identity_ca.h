/* SPDX-License-Identifier: Apache-2.0 */
/* Written by tests/fuzz/make_seeds.py: the mesh root that signed the
 * identity seeds, and a time within their life. */
#define FZ_ID_NOW 1796555187L
#define FZ_ID_CA_CRT                                                                               \
	"-----BEGIN CERTIFICATE-----\n"                                                            \
	"MIIBvDCCAWKgAwIBAgIRAMKGztrk8fgLJM8KtbvMtOQwCgYIKoZIzj0EAwIwLTEO\n"                       \
	"MAwGA1UECgwFc2tpZmYxGzAZBgNVBAMMEnNraWZmIG1lc2ggcm9vdCBDQTAeFw0y\n"                       \
	"NjEyMDYxMTA0MjdaFw0zNjEyMDUxMTA1MjdaMC0xDjAMBgNVBAoMBXNraWZmMRsw\n"                       \
	"GQYDVQQDDBJza2lmZiBtZXNoIHJvb3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMB\n"                       \
	"BwNCAATi+V2mbPSVVjPPdFky1ewp2VWqYfA4P39o3DPL2AkJ0Gpsquf6RUZhGgXi\n"                       \
	"A9oetIBpdUhkcfLwf9/uRRWVLlwro2MwYTAPBgNVHRMBAf8EBTADAQH/MA4GA1Ud\n"                       \
	"DwEB/wQEAwIBBjAdBgNVHQ4EFgQU1Cvc2mMGAUSea7zipDmC5iqeGocwHwYDVR0j\n"                       \
	"BBgwFoAU1Cvc2mMGAUSea7zipDmC5iqeGocwCgYIKoZIzj0EAwIDSAAwRQIhAIWW\n"                       \
	"HGr/PTrFIyEuFQQzcMxrIud2XU1X67Lr43nqVfQLAiBTO5NBpnMQH+DLUYVG1VRA\n"                       \
	"VZsgaq2VrqeurVrf6HamUQ==\n"                                                               \
	"-----END CERTIFICATE-----\n"                                                              \
	""
#define FZ_ID_CA_KEY                                                                               \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVoJeRU6fTbboIWx1\n"                       \
	"4VsmsfNo0ckMYe7LoXpLmfZpzGuhRANCAATi+V2mbPSVVjPPdFky1ewp2VWqYfA4\n"                       \
	"P39o3DPL2AkJ0Gpsquf6RUZhGgXiA9oetIBpdUhkcfLwf9/uRRWVLlwr\n"                               \
	"-----END PRIVATE KEY-----\n"                                                              \
	""
