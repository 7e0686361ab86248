/*
 * tls.h - verify the server of a libetpan TLS stream, before any password
 * is sent.
 *
 * libetpan's GnuTLS build checks nothing: any certificate, any host name
 * is accepted. tls_verify() takes the peer's chain from the stream and
 * checks it with GnuTLS against the system trust store or a CA file,
 * checks the host name (or IP address), and optionally a SHA-256 pin of
 * the leaf certificate. IMAP and SMTP both call it after the handshake.
 */
#ifndef REBOND_TLS_H
#define REBOND_TLS_H

#include <stddef.h>

#include <libetpan/libetpan.h>

/*
 * Verify the peer of stream s for host. ca_file NULL: the system store.
 * fingerprint NULL or "sha256:<hex>". Returns 0, or -1 with a reason
 * (e.g. "The certificate issuer is unknown.") in err.
 */
int tls_verify(mailstream *s, const char *host, const char *ca_file,
    const char *fingerprint, char *err, size_t errlen);

/* SNI for a libetpan TLS context (callback of the *_with_callback connects;
 * data is the host name). */
void tls_set_sni(struct mailstream_ssl_context *ctx, void *data);

#endif
