/* libhookd: version and status strings. */
#include "hookd/hookd.h"

const char *hookd_version(void)
{
    return HOOKD_VERSION_STRING;
}

const char *hookd_strerror(hookd_status status)
{
    switch (status) {
    case HOOKD_OK:
        return "success";
    case HOOKD_E_INVALID_ARGUMENT:
        return "invalid argument";
    case HOOKD_E_BUFFER_TOO_SMALL:
        return "output buffer too small";
    case HOOKD_E_CRYPTO:
        return "cryptographic library failure";
    case HOOKD_E_BAD_SECRET:
        return "secret is empty, too long or not valid base64";
    case HOOKD_E_SIGNATURE_MISMATCH:
        return "no signature matches";
    case HOOKD_E_TIMESTAMP_TOO_OLD:
        return "timestamp is too old";
    case HOOKD_E_TIMESTAMP_TOO_NEW:
        return "timestamp is too far in the future";
    case HOOKD_E_MALFORMED_HEADER:
        return "signature header or message id is empty, too long or holds no valid signature";
    case HOOKD_E_MALFORMED_TIMESTAMP:
        return "timestamp is not a unix time in seconds";
    }
    return "unknown status";
}
