/* The server's error value: what went wrong, in the shape of the API's JSON error (§2.1).
 * Functions return 0 or a negative code and fill a caller-supplied struct err. */
#ifndef HOOKD_CORE_ERR_H
#define HOOKD_CORE_ERR_H

enum {
    ERR_FAIL = -1,      /* generic failure, details in struct err */
    ERR_NOT_FOUND = -2, /* the object does not exist (or belongs to another org) */
    ERR_CONFLICT = -3,  /* a uniqueness or state conflict */
};

struct err {
    int status;        /* HTTP status the API answers with (400, 404, 500, ...) */
    char code[40];     /* machine code: "validation_error", "not_found", ... */
    char field[128];   /* the offending field, "" if none */
    char message[256]; /* human text */
};

/* Fills e (which may be NULL) and returns ERR_FAIL, so callers can `return err_set(...)`. */
int err_set(struct err *e, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Shorthands for the common cases. */
int err_invalid(struct err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_internal(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
