/* tls.c - certificate and host name checks for libetpan streams. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "digest.h"
#include "tls.h"
#include "xalloc.h"

void
tls_set_sni(struct mailstream_ssl_context *ctx, void *data)
{
	mailstream_ssl_set_server_name(ctx, (char *)data);
}

/* Free the chain libetpan handed us (a carray of MMAPString, DER). */
static void
chain_free(carray *chain)
{
	unsigned i;

	for (i = 0; i < carray_count(chain); i++)
		mmap_string_free(carray_get(chain, i));
	carray_free(chain);
}

int
tls_verify(mailstream *s, const char *host, const char *ca_file,
    const char *fingerprint, char *err, size_t errlen)
{
	gnutls_x509_crt_t *crts = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	carray *chain;
	unsigned n, i, status = 0;
	int rc = -1, r;

	chain = mailstream_low_get_certificate_chain(mailstream_get_low(s));
	if (chain == NULL) {
		snprintf(err, errlen, "no TLS certificate chain");
		return -1;
	}
	n = carray_count(chain);
	if (n == 0) {
		snprintf(err, errlen, "the server sent no certificate");
		carray_free(chain);
		return -1;
	}
	if (fingerprint != NULL) {
		MMAPString *leaf = carray_get(chain, 0);
		char hex[65];

		digest_sha256_hex(leaf->str, leaf->len, hex);
		if (strcasecmp(hex, fingerprint + strlen("sha256:")) != 0) {
			snprintf(err, errlen, "certificate fingerprint "
			    "sha256:%s does not match the pinned one", hex);
			goto out;
		}
	}
	crts = xcalloc(n, sizeof *crts);
	for (i = 0; i < n; i++) {
		MMAPString *der = carray_get(chain, i);
		gnutls_datum_t d = { (unsigned char *)der->str,
			(unsigned)der->len };

		if (gnutls_x509_crt_init(&crts[i]) < 0 ||
		    gnutls_x509_crt_import(crts[i], &d,
		    GNUTLS_X509_FMT_DER) < 0) {
			snprintf(err, errlen, "certificate %u of the chain "
			    "cannot be decoded", i);
			goto out;
		}
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		snprintf(err, errlen, "cannot initialise the trust list");
		goto out;
	}
	if (ca_file != NULL)
		r = gnutls_x509_trust_list_add_trust_file(tl, ca_file, NULL,
		    GNUTLS_X509_FMT_PEM, 0, 0);
	else
		r = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (r <= 0) {
		snprintf(err, errlen, "no trusted CA loaded from %s",
		    ca_file ? ca_file : "the system trust store");
		goto out;
	}
	{
		gnutls_typed_vdata_st vd[2] = {
			{ GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)host, 0 },
			{ GNUTLS_DT_KEY_PURPOSE_OID,
			  (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER, 0 },
		};

		r = gnutls_x509_trust_list_verify_crt2(tl, crts, n, vd, 2, 0,
		    &status, NULL);
	}
	if (r < 0) {
		snprintf(err, errlen, "verification failed: %s",
		    gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		gnutls_datum_t t = { NULL, 0 };

		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &t, 0) == 0) {
			snprintf(err, errlen, "%s", (char *)t.data);
			gnutls_free(t.data);
		} else
			snprintf(err, errlen, "certificate rejected "
			    "(status 0x%x)", status);
		goto out;
	}
	rc = 0;
out:
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	if (crts != NULL) {
		for (i = 0; i < n; i++)
			if (crts[i] != NULL)
				gnutls_x509_crt_deinit(crts[i]);
		free(crts);
	}
	chain_free(chain);
	return rc;
}
