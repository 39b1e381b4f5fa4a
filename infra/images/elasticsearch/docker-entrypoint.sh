#!/bin/bash
# As the official image: environment variables named like settings (lower case with dots) become
# -E options. Settings of modules this distribution does not have (machine learning, the GeoIP
# downloader) are dropped, since Elasticsearch refuses to start on an unknown setting; with those
# modules absent they are off anyway.
set -euo pipefail
home=/usr/share/elasticsearch
args=()
while IFS='=' read -r name value; do
  [[ $name =~ ^[a-z0-9_]+\.[a-z0-9_.]+$ ]] || continue
  case $name in
    xpack.ml.*) [[ -d $home/modules/x-pack-ml ]] || { echo "dropping $name (no machine-learning module)"; continue; } ;;
    ingest.geoip.*) [[ -d $home/modules/ingest-geoip ]] || { echo "dropping $name (no GeoIP module)"; continue; } ;;
  esac
  args+=("-E$name=$value")
done < <(env)
exec "$home/bin/elasticsearch" "${args[@]}" "$@"
