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
        return "secret is not valid base64";
    }
    return "unknown status";
}
