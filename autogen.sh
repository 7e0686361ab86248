#!/bin/sh
# Regenerate the build system: ./autogen.sh && ./configure && make
set -eu
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --install --force
# autoreconf does not install the TAP driver; the tests use it.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/
