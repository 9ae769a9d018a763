#!/bin/sh
# Install test (§5): a tree made by `make install DESTDIR=<root> PREFIX=/usr` must let the
# documented example build through pkg-config, shared and static, against the installed copy
# only, and the installed hookd and example must agree on a signature.
#   usage: [CC=cc] [SAN='-fsanitize=...'] tests/interop/install-test.sh ROOT
#   ROOT is the DESTDIR that was installed into; SAN, the sanitizer flags the installed copy was
#   built with (a sanitizer build's libraries need the runtime linked into the example too).
set -eu

root=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CC=${CC:-cc}
SAN=${SAN:-}

fail() {
    echo "install-test: FAIL: $*" >&2
    exit 1
}

# The installed files, with the SONAME chain of links.
for f in usr/include/hookd/hookd.h usr/lib/libhookd.a usr/lib/libhookd.so.0.1.0 \
    usr/lib/pkgconfig/hookd.pc usr/bin/hookd usr/share/hookd/web/index.html usr/share/hookd/web/app.js; do
    [ -f "$root/$f" ] || fail "missing $f"
done
[ "$(readlink "$root/usr/lib/libhookd.so")" = libhookd.so.0 ] || fail "libhookd.so link"
[ "$(readlink "$root/usr/lib/libhookd.so.0")" = libhookd.so.0.1.0 ] || fail "libhookd.so.0 link"

# pkg-config sees only the installed tree's hookd.pc (and the system's libcrypto.pc); the
# sysroot maps the .pc's /usr paths into the tree, and system paths are kept in the flags so
# -I/-L cannot fall back on another copy.
export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
[ "$(pkg-config --variable=prefix hookd)" = /usr ] ||
    [ "$(pkg-config --variable=prefix hookd)" = "$root/usr" ] ||
    fail "hookd.pc has prefix $(pkg-config --variable=prefix hookd), not /usr"
[ "$(pkg-config --modversion hookd)" = "$("$root/usr/bin/hookd" version | sed -n 's/^hookd \([^ ]*\) .*/\1/p')" ] ||
    fail "hookd.pc's version differs from the program's"
cflags=$(pkg-config --cflags hookd)
libs=$(pkg-config --libs hookd)
case "$cflags" in *"$root/usr/include"*) ;; *) fail "--cflags '$cflags' do not point into $root" ;; esac
case "$libs" in *"$root/usr/lib"*) ;; *) fail "--libs '$libs' do not point into $root" ;; esac

# The documented command, shared: cc receiver.c $(pkg-config --cflags --libs hookd)
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror $SAN "$repo/examples/receiver.c" $cflags $libs -o "$work/shared" ||
    fail "the example does not build against the installed shared library"
# Static: the archive itself, with libcrypto from Requires.private.
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror $SAN "$repo/examples/receiver.c" $cflags \
    "$root/usr/lib/libhookd.a" $(pkg-config --static --libs-only-l --libs-only-other hookd |
        sed 's/-lhookd//') -o "$work/static" ||
    fail "the example does not build against the installed static library"
LD_LIBRARY_PATH="$root/usr/lib" ldd "$work/shared" | grep -q "$root/usr/lib/libhookd.so.0" ||
    fail "the shared example does not load the installed libhookd.so.0"
if ldd "$work/static" | grep -q libhookd; then fail "the static example loads libhookd.so"; fi

# A delivery signed by the installed hookd passes both builds; a flipped byte does not.
secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
printf '{"type":"install.test","data":{}}' >"$work/body"
"$root/usr/bin/hookd" sign --secret "$secret" <"$work/body" >"$work/headers"
header() { sed -n "s/^$1: //p" "$work/headers"; }
deliver() { # deliver PROGRAM BODYFILE -> the CGI status code
    env -i PATH="$PATH" LD_LIBRARY_PATH="$root/usr/lib" WEBHOOK_SECRET="$secret" \
        REQUEST_METHOD=POST CONTENT_LENGTH="$(wc -c <"$2" | tr -d ' ')" \
        HTTP_WEBHOOK_ID="$(header webhook-id)" HTTP_WEBHOOK_TIMESTAMP="$(header webhook-timestamp)" \
        HTTP_WEBHOOK_SIGNATURE="$(header webhook-signature)" "$1" <"$2" 2>/dev/null |
        sed -n '1s/^Status: \([0-9]*\).*/\1/p'
}
printf '{"type":"install.tesu","data":{}}' >"$work/tampered"
for build in shared static; do
    [ "$(deliver "$work/$build" "$work/body")" = 204 ] || fail "$build example refused a valid delivery"
    [ "$(deliver "$work/$build" "$work/tampered")" = 401 ] || fail "$build example accepted a tampered body"
done
echo "install-test: 2 passed, 0 failed"
