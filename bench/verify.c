/* make bench-verify: verifications per second of a 1 KiB body on one core, both schemes,
 * against a bare OpenSSL HMAC of the same bytes. */
#include <hookd/hookd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SECONDS 2.0

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    char body[1024], standard[HOOKD_SIGNATURE_MAX], hex[HOOKD_SIGNATURE_MAX], ts[32];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len;
    const long long timestamp = 1700000000;
    long n;
    double start;

    memset(body, 'x', sizeof body);
    snprintf(ts, sizeof ts, "%lld", timestamp);
    if (hookd_sign_standard(secret, "msg_1", timestamp, body, sizeof body, standard,
                            sizeof standard) != HOOKD_OK ||
        hookd_sign_hex(secret, timestamp, body, sizeof body, hex, sizeof hex) != HOOKD_OK)
        return 1;

    for (n = 0, start = now(); now() - start < SECONDS; n++)
        if (hookd_verify_standard(secret, "msg_1", ts, standard, body, sizeof body, 300,
                                  timestamp) != HOOKD_OK)
            return 1;
    printf("hookd_verify_standard: %.0f verifications/s (1 KiB body, one core)\n",
           (double)n / (now() - start));
    for (n = 0, start = now(); now() - start < SECONDS; n++)
        if (hookd_verify_hex(secret, ts, hex, body, sizeof body, 300, timestamp) != HOOKD_OK)
            return 1;
    printf("hookd_verify_hex:      %.0f verifications/s\n", (double)n / (now() - start));
    for (n = 0, start = now(); now() - start < SECONDS; n++)
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, sizeof body,
             mac, &mac_len);
    printf("bare OpenSSL HMAC():   %.0f per second\n", (double)n / (now() - start));
    return 0;
}
