/* The TLS policy of colo's servers (webhook, extender): which protocol versions and cipher suites
 * GnuTLS may negotiate, and which private keys are strong enough to serve with. */
#pragma once

#include <stddef.h>

#include "util/error.h"

/* GnuTLS priority string: TLS 1.3 and 1.2 only; ECDHE key exchange only (forward secret: no
 * static-RSA "AES128-SHA" suites); AEAD ciphers only (no CBC, no SHA-1 MACs); the server's order
 * of preference. `gnutls-cli --priority '<this>' --list` shows the resulting suites. */
#define TLS_POLICY_PRIORITIES                                                                      \
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:"           \
        "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

/* RSA keys below this many bits are refused (NIST SP 800-131A: 2048 since 2014). */
#define TLS_POLICY_MIN_RSA_BITS 2048u

/* Parses the PEM private key pem (read from key_file, named in errors) and checks it against the
 * policy: RSA of at least TLS_POLICY_MIN_RSA_BITS, or an EC/EdDSA key. Returns 0, -EINVAL when the
 * key does not parse, -EKEYREJECTED when it is too weak, with the reason in err. */
int tls_policy_check_key(const char *key_file, const char *pem, size_t size, ColoError *err);
