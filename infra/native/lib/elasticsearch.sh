# shellcheck shell=bash
# Elasticsearch 8.19.x: the official integ-test-zip distribution from Maven Central
# (org.elasticsearch.distribution.integ-test-zip:elasticsearch:<v>:zip). No bundled JDK: runs on the system JDK 17.
# ES refuses to run as root, so it runs as the system user sdlab-es.

SDLAB_ES_VERSION=${SDLAB_ES_VERSION:-8.19.21}
ES_HOME=$SDLAB_INFRA_CACHE/elasticsearch-$SDLAB_ES_VERSION
ES_USER=${SDLAB_ES_USER:-sdlab-es}
ES_HEAP_OPTS=${ES_HEAP_OPTS:--Xms512m -Xmx512m}

elasticsearch_port() { echo "$SDLAB_ES_PORT"; }
elasticsearch_url() { echo "http://$SDLAB_HOST:$SDLAB_ES_PORT"; }

_es_java_home() {
  if [[ -n ${SDLAB_ES_JAVA_HOME:-} ]]; then echo "$SDLAB_ES_JAVA_HOME"; return; fi
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

ES_COMPAT_SRC=$INFRA_DIR/elasticsearch/sdlab-compat-plugin
ES_COMPAT_DIR=$ES_HOME/plugins/sdlab-compat

_es_compat_sha() { find "$ES_COMPAT_SRC" -type f -name '*.java' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16; }

elasticsearch_installed() {
  [[ -f $ES_HOME/.complete ]] && id -u "$ES_USER" >/dev/null 2>&1 || return 1
  [[ ${SDLAB_ES_COMPAT_PLUGIN:-1} == 0 ]] || [[ $(cat "$ES_COMPAT_DIR/.source-sha" 2>/dev/null) == "$(_es_compat_sha)" ]]
}

# Our own small plugin (infra/native/elasticsearch/sdlab-compat-plugin) adding GET/HEAD / and the
# edge_ngram / asciifolding analysis components that this distribution lacks. Compiled with javac
# against the distribution's own lib/ jars; rebuilt when its sources change.
_es_build_compat_plugin() {
  local sha tmp
  sha=$(_es_compat_sha)
  if [[ $(cat "$ES_COMPAT_DIR/.source-sha" 2>/dev/null) == "$sha" ]]; then
    log elasticsearch "sdlab-compat plugin already built ($ES_COMPAT_DIR)"
    return 0
  fi
  command -v javac >/dev/null || die elasticsearch "javac (JDK 17) not found: needed to build the sdlab-compat plugin"
  log elasticsearch "building sdlab-compat plugin (GET/HEAD /, edge_ngram, asciifolding) with javac ..."
  tmp=$(mktemp -d)
  find "$ES_COMPAT_SRC" -name '*.java' >"$tmp/sources.txt"
  javac --release 17 -nowarn -cp "$ES_HOME/lib/*" -d "$tmp/classes" "@$tmp/sources.txt" \
    || { rm -rf "$tmp"; die elasticsearch "javac failed for the sdlab-compat plugin"; }
  rm -rf "$ES_COMPAT_DIR"
  mkdir -p "$ES_COMPAT_DIR"
  jar --create --file "$ES_COMPAT_DIR/sdlab-compat.jar" -C "$tmp/classes" .
  cat >"$ES_COMPAT_DIR/plugin-descriptor.properties" <<EOP
description=System Design Lab local-test compat: GET/HEAD /, edge_ngram tokenizer+filter, asciifolding
version=1.0.0
name=sdlab-compat
classname=lab.sdlab.escompat.SdlabCompatPlugin
java.version=17
elasticsearch.version=$SDLAB_ES_VERSION
EOP
  rm -rf "$tmp"
  chmod -R a+rX "$ES_COMPAT_DIR"
  echo "$sha" >"$ES_COMPAT_DIR/.source-sha"
}

elasticsearch_install() {
  apt_ensure elasticsearch unzip acl curl
  command -v java >/dev/null || die elasticsearch "java (17+) not found"
  ensure_system_user "$ES_USER"
  if [[ -f $ES_HOME/.complete ]]; then
    log elasticsearch "already installed: Elasticsearch $SDLAB_ES_VERSION in $ES_HOME"
    [[ ${SDLAB_ES_COMPAT_PLUGIN:-1} == 0 ]] || _es_build_compat_plugin
    return 0
  fi
  local coords=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$SDLAB_ES_VERSION:zip tmp
  log elasticsearch "fetching $coords from Maven Central (~100 MB) ..."
  tmp=$(mktemp -d "$SDLAB_INFRA_CACHE/.es-download.XXXXXX")
  mvn -B -q -Dstyle.color=never "$MAVEN_DEP_PLUGIN:copy" -Dartifact="$coords" -DoutputDirectory="$tmp" \
    || { rm -rf "$tmp"; die elasticsearch "mvn dependency:copy $coords failed"; }
  rm -rf "$ES_HOME"
  unzip -q "$tmp/elasticsearch-$SDLAB_ES_VERSION.zip" -d "$tmp/unzipped"
  mv "$tmp/unzipped/elasticsearch-$SDLAB_ES_VERSION" "$ES_HOME"
  rm -rf "$tmp"
  chmod -R a+rX "$ES_HOME"
  chmod a+x "$ES_HOME"/bin/*
  touch "$ES_HOME/.complete"
  [[ ${SDLAB_ES_COMPAT_PLUGIN:-1} == 0 ]] || _es_build_compat_plugin
  log elasticsearch "installed: $(du -sh "$ES_HOME" | cut -f1) in $ES_HOME; modules: $(ls "$ES_HOME/modules" | tr '\n' ' ')"
}

elasticsearch_ready() {
  local body
  body=$(curl -sf --max-time 5 "$(elasticsearch_url)/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null) || return 1
  [[ $body == *'"timed_out":false'* && $body != *'"status":"red"'* ]]
}

elasticsearch_start() {
  local dir conf ES_DATA_DIR ES_LOGS_DIR
  elasticsearch_installed || die elasticsearch "not installed (run: bash infra/native/infra.sh install elasticsearch)"
  dir=$(run_dir elasticsearch)
  conf=$dir/config
  ES_DATA_DIR=$dir/data
  ES_LOGS_DIR=$dir/logs
  require_free_ports elasticsearch "$SDLAB_ES_PORT" "$SDLAB_ES_TRANSPORT_PORT"
  ensure_traversable "$ES_USER" "$dir/x"
  ensure_traversable "$ES_USER" "$ES_HOME/x"
  # SDLAB_KEEP_DATA=1 (pnpm fault: a stopped node comes back with its indices, as after a real
  # outage) keeps the data dir; otherwise every start is an empty node.
  if [[ ${SDLAB_KEEP_DATA:-} == 1 && -d $ES_DATA_DIR ]]; then
    log elasticsearch "keeping the existing data in $ES_DATA_DIR (SDLAB_KEEP_DATA=1)"
  else
    rm -rf "$ES_DATA_DIR"
  fi
  rm -rf "$conf" "$ES_LOGS_DIR" "$dir/tmp" "$dir/es-server.pid"
  mkdir -p "$ES_DATA_DIR" "$ES_LOGS_DIR" "$dir/tmp"
  # A private copy of config/: ES writes its keystore there, and the install dir stays read-only.
  cp -r "$ES_HOME/config" "$conf"
  render_template "$INFRA_DIR/elasticsearch/elasticsearch.yml.tmpl" "$conf/elasticsearch.yml" \
    SDLAB_ES_PORT SDLAB_ES_TRANSPORT_PORT ES_DATA_DIR ES_LOGS_DIR
  # x-pack-security ships in this distribution: it must be switched off explicitly, otherwise
  # the node starts with security on (TLS auto-config, 401s). The setting is unknown without the module.
  if [[ -d $ES_HOME/modules/x-pack-security ]]; then
    echo 'xpack.security.enabled: false' >>"$conf/elasticsearch.yml"
  fi
  chown -R "$ES_USER:" "$conf" "$ES_DATA_DIR" "$ES_LOGS_DIR" "$dir/tmp"
  chown "$ES_USER:" "$dir"
  log elasticsearch "starting Elasticsearch $SDLAB_ES_VERSION on $SDLAB_HOST:$SDLAB_ES_PORT as user $ES_USER (heap: $ES_HEAP_OPTS)"
  # setpriv execs in place: the recorded pid is the ES CLI launcher until the node writes es-server.pid.
  start_daemon elasticsearch setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups -- \
    env HOME=/nonexistent ES_JAVA_HOME="$(_es_java_home)" ES_PATH_CONF="$conf" ES_TMPDIR="$dir/tmp" \
    ES_JAVA_OPTS="$ES_HEAP_OPTS" "$ES_HOME/bin/elasticsearch" -p "$dir/es-server.pid"
}

elasticsearch_wait() {
  wait_ready elasticsearch 120 || return 1
  # From now on track the node JVM itself (SIGTERM to it = clean shutdown; the launcher then exits too).
  local spf=$SDLAB_RUN/elasticsearch/es-server.pid
  local node=""
  if [[ -s $spf ]]; then node=$(tr -dc '0-9' <"$spf"); fi
  if pid_is elasticsearch "$node"; then write_pid elasticsearch "$node"; fi
}

elasticsearch_down() {
  local spf=$SDLAB_RUN/elasticsearch/es-server.pid node
  node=""
  if [[ -s $spf ]]; then node=$(tr -dc '0-9' <"$spf"); fi
  stop_pid elasticsearch TERM
  # If `up` never got as far as recording the node pid, the pidfile held the launcher: stop the node too.
  if pid_is elasticsearch "$node"; then
    write_pid elasticsearch "$node"
    stop_pid elasticsearch TERM
  fi
  rm -f "$spf"
}
