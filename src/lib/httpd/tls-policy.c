/* Key checks of the TLS policy (tls-policy.h). The key is parsed with GnuTLS, the same library
 * libmicrohttpd hands it to later, so "parses here" means "loads there". */
#include <errno.h>

#include <gnutls/x509.h>

#include "httpd/tls-policy.h"

int tls_policy_check_key(const char *key_file, const char *pem, size_t size, ColoError *err) {
        gnutls_x509_privkey_t key;
        if (gnutls_x509_privkey_init(&key) < 0)
                return colo_error_set(err, ENOMEM, "TLS key '%s'", key_file);
        gnutls_datum_t data = { .data = (unsigned char *) pem, .size = (unsigned) size };
        int r = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
        if (r < 0) {
                gnutls_x509_privkey_deinit(key);
                return colo_error_setf_plain(err, EINVAL, "TLS key '%s': not a PEM private key: %s", key_file,
                                             gnutls_strerror(r));
        }
        unsigned bits = 0;
        int algo = gnutls_x509_privkey_get_pk_algorithm2(key, &bits);
        gnutls_x509_privkey_deinit(key);
        switch (algo) {
        case GNUTLS_PK_RSA:
        case GNUTLS_PK_RSA_PSS:
                if (bits < TLS_POLICY_MIN_RSA_BITS)
                        return colo_error_setf_plain(err, EKEYREJECTED, "TLS key '%s': RSA key of %u bits is too weak, "
                                                     "at least %u bits needed", key_file, bits,
                                                     TLS_POLICY_MIN_RSA_BITS);
                return 0;
        case GNUTLS_PK_ECDSA:
        case GNUTLS_PK_EDDSA_ED25519:
        case GNUTLS_PK_EDDSA_ED448:
                return 0;
        default:
                return colo_error_setf_plain(err, EKEYREJECTED, "TLS key '%s': %s keys are not supported, use RSA "
                                             "(>= %u bits) or ECDSA", key_file,
                                             gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t) algo) ?: "unknown",
                                             TLS_POLICY_MIN_RSA_BITS);
        }
}
