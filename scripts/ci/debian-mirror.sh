#!/usr/bin/env bash
# Prints the URI of the Debian archive this machine already installs bookworm from (deb822
# .sources files first, then one-line sources.list entries), so CI can add a suite of the
# same archive without naming any host itself. Fails when none is configured.
set -euo pipefail
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -r "$f" ] || continue
  # deb822 stanzas: take the URIs of a stanza whose Suites include plain "bookworm".
  uri=$(awk 'BEGIN{RS=""; FS="\n"} {u=""; s=""; for(i=1;i<=NF;i++){ if($i ~ /^URIs:/){sub(/^URIs:[ \t]*/,"",$i); u=$i} if($i ~ /^Suites:/){s=" " $i " "} } if(u!="" && s ~ / bookworm /){split(u,a," "); print a[1]; exit} }' "$f")
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
  uri=$(awk '$1=="deb" && $0 ~ / bookworm / {for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "no Debian bookworm archive is configured in /etc/apt; cannot add bookworm-backports" >&2
  exit 1
fi
echo "$uri"
