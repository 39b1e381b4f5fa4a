# shellcheck shell=bash
# Apache Kafka (KRaft, single combined broker+controller) from Maven Central jars.

SDLAB_KAFKA_VERSION=${SDLAB_KAFKA_VERSION:-4.1.2}
KAFKA_HOME=$SDLAB_INFRA_CACHE/kafka-$SDLAB_KAFKA_VERSION
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}
MAVEN_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1

kafka_port() { echo "$SDLAB_KAFKA_PORT"; }
kafka_url() { echo "$SDLAB_HOST:$SDLAB_KAFKA_PORT"; }

kafka_installed() { [[ -f $KAFKA_HOME/.complete ]] && command -v kcat >/dev/null && command -v java >/dev/null; }

kafka_install() {
  apt_ensure kafka kcat
  command -v java >/dev/null || die kafka "java (17+) not found"
  command -v mvn >/dev/null || die kafka "mvn not found"
  if [[ -f $KAFKA_HOME/.complete ]]; then
    log kafka "already installed: Kafka $SDLAB_KAFKA_VERSION jars in $KAFKA_HOME/libs"
    return 0
  fi
  log kafka "fetching Kafka $SDLAB_KAFKA_VERSION + log4j2 jars from Maven Central (~40 MB) into $KAFKA_HOME/libs ..."
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME/libs"
  mvn -B -q -Dstyle.color=never -f "$INFRA_DIR/kafka/pom.xml" -Dkafka.version="$SDLAB_KAFKA_VERSION" \
    "$MAVEN_DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" \
    || die kafka "mvn copy-dependencies failed"
  ls "$KAFKA_HOME/libs/kafka_2.13-$SDLAB_KAFKA_VERSION.jar" >/dev/null || die kafka "kafka_2.13 jar missing after mvn"
  touch "$KAFKA_HOME/.complete"
  log kafka "installed: $(ls "$KAFKA_HOME/libs" | wc -l) jars, $(du -sh "$KAFKA_HOME/libs" | cut -f1)"
}

_kafka_java() {  # java with the broker classpath and our log4j2 config
  java -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" -cp "$KAFKA_HOME/libs/*" "$@"
}

kafka_ready() {
  grep -q 'Kafka Server started' "$(log_file kafka)" 2>/dev/null || return 1
  kcat -b "$SDLAB_HOST:$SDLAB_KAFKA_PORT" -L -m 5 2>/dev/null | grep -q '1 brokers:'
}

kafka_start() {
  local dir KAFKA_DATA_DIR cid
  kafka_installed || die kafka "not installed (run: bash infra/native/infra.sh install kafka)"
  dir=$(run_dir kafka)
  KAFKA_DATA_DIR=$dir/kraft-logs
  require_free_ports kafka "$SDLAB_KAFKA_PORT" "$SDLAB_KAFKA_CONTROLLER_PORT"
  render_template "$INFRA_DIR/kafka/server.properties.tmpl" "$dir/server.properties" \
    SDLAB_KAFKA_PORT SDLAB_KAFKA_CONTROLLER_PORT KAFKA_DATA_DIR
  # SDLAB_KEEP_DATA=1 (pnpm fault: a stopped broker comes back with its topics, messages and
  # committed offsets, as after a real outage) restarts on the formatted KRaft dir and its cluster
  # id. Otherwise always a fresh dir and cluster id: old data + new cluster id = "Invalid cluster.id".
  if [[ ${SDLAB_KEEP_DATA:-} == 1 && -f $KAFKA_DATA_DIR/meta.properties ]]; then
    cid=$(sed -n 's/^cluster.id=//p' "$KAFKA_DATA_DIR/meta.properties")
    log kafka "keeping the existing KRaft log in $KAFKA_DATA_DIR (SDLAB_KEEP_DATA=1)"
  else
    rm -rf "$KAFKA_DATA_DIR"
    cid=$(_kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    [[ -n $cid ]] || die kafka "StorageTool random-uuid failed"
    _kafka_java kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
      || { tail -n 50 "$dir/format.log" >&2; die kafka "storage format failed"; }
  fi
  log kafka "starting Kafka $SDLAB_KAFKA_VERSION on $SDLAB_HOST:$SDLAB_KAFKA_PORT (controller :$SDLAB_KAFKA_CONTROLLER_PORT, cluster id $cid)"
  # shellcheck disable=SC2086
  start_daemon kafka java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" -cp "$KAFKA_HOME/libs/*" \
    kafka.Kafka "$dir/server.properties"
}

kafka_wait() { wait_ready kafka 120; }

kafka_down() { stop_pid kafka TERM; }
