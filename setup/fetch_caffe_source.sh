#!/usr/bin/env bash
# Prints the path of a verified BVLC Caffe source (tarball or directory).
#
# Default: the orig tarball of Debian bullseye's source package
# caffe 1.0.0+git20180821.99bd997-8, byte-identical to BVLC commit 99bd997,
# fetched with apt-get through a private, temporary deb-src list whose archive URI
# is read from this machine's own apt sources, then checked against its sha256.
# CAFFE_SRC=<tarball or directory> overrides it (e.g. a BVLC archive of 99bd997).
set -euo pipefail
. "$(dirname "$0")/common.sh"

PKG_VERSION=1.0.0+git20180821.99bd997-8
ORIG=caffe_1.0.0+git20180821.99bd997.orig.tar.gz
ORIG_SHA256=e0eb3f06794f7402c77b7dec8e8480273ee1a1bb192e9122b621a69d4147ad0c

if [ -n "${CAFFE_SRC:-}" ]; then
  [ -e "$CAFFE_SRC" ] || die "caffe source: CAFFE_SRC=$CAFFE_SRC does not exist"
  [ -f "$CAFFE_SRC" ] || [ -f "$CAFFE_SRC/include/caffe/caffe.hpp" ] \
    || die "caffe source: CAFFE_SRC=$CAFFE_SRC is neither a tarball nor a Caffe tree (no include/caffe/caffe.hpp)"
  say "caffe source: CAFFE_SRC=$CAFFE_SRC (override; not checked against Debian's sha256)"
  cd "$(dirname "$CAFFE_SRC")" && echo "$PWD/$(basename "$CAFFE_SRC")"
  exit 0
fi

dest=$CACHE_ROOT/src/$ORIG
if [ -f "$dest" ]; then echo "$dest"; exit 0; fi

# The Debian archive URI this machine already uses (deb822 .sources or one-line .list),
# skipping security and update mirrors, which carry no bullseye sources.
archive_uri() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources) awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) print $i}' "$f" ;;
      *) awk '$1=="deb" || $1=="deb-src" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; break}}' "$f" ;;
    esac
  done | grep -v -e security -e updates | grep -E '/debian/?$' | head -n 1
}
uri=$(archive_uri) || true
[ -n "$uri" ] || die "caffe source: no Debian archive URI found in /etc/apt/sources.list{,.d}; set CAFFE_SRC=<BVLC caffe 99bd997 tarball or directory>"

log=$(new_log fetch-caffe)
tmp=$(mktemp -d "$CACHE_ROOT/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/parts" "$tmp/dl"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
opt=""; [ -f "$keyring" ] && opt="[signed-by=$keyring] "
echo "deb-src ${opt}${uri%/} bullseye main" > "$tmp/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/parts"
          -o "Dir::State::Lists=$tmp/lists" -o "Debug::NoLocking=1")
say "caffe source: fetching Debian source package caffe=$PKG_VERSION (log: $log)"
run_logged "apt-get update (temporary bullseye deb-src list)" "$log" apt-get "${apt_opts[@]}" update
(cd "$tmp/dl" && run_logged "apt-get source --download-only caffe=$PKG_VERSION" "$log" \
   apt-get "${apt_opts[@]}" source --download-only "caffe=$PKG_VERSION")
got=$(sha256sum "$tmp/dl/$ORIG" | cut -d' ' -f1)
[ "$got" = "$ORIG_SHA256" ] || die "caffe source: sha256 mismatch for $ORIG: got $got, want $ORIG_SHA256 (log: $log)"
mkdir -p "$(dirname "$dest")"
mv "$tmp/dl/$ORIG" "$dest.part" && mv "$dest.part" "$dest"
say "caffe source: verified sha256 $ORIG_SHA256"
echo "$dest"
