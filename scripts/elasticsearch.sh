#!/usr/bin/env bash
# scripts/elasticsearch.sh — a throw-away Elasticsearch 8.x (or 7.x) for sluice's tests.
#
#   eval "$(scripts/elasticsearch.sh start)"     # 8.x: unzip + start, prints the export line
#   eval "$(scripts/elasticsearch.sh start 7)"   # 7.x, alongside (its own directory and port)
#   scripts/elasticsearch.sh env [7]             # prints the export line again
#   scripts/elasticsearch.sh stop [7]            # stops the node and removes its directory
#
# 8.x prints  export SLUICE_ELASTICSEARCH_URL=http://127.0.0.1:PORT
# 7.x prints  export SLUICE_ELASTICSEARCH7_URL=http://127.0.0.1:PORT
#
# Options (environment):
#   SLUICE_TMP                 base directory; the node lives in $SLUICE_TMP/elasticsearch
#                              (7.x: .../elasticsearch7) (default /tmp/sluice-elasticsearch,
#                              /tmp/sluice-elasticsearch7)
#   SLUICE_CACHE               where downloaded zips are kept (default ~/.cache/sluice)
#   SLUICE_ELASTICSEARCH_VERSION   8.x version to run (default 8.19.8)
#   SLUICE_ELASTICSEARCH7_VERSION  7.x version to run (default 7.17.29)
#   SLUICE_ELASTICSEARCH_PORT, SLUICE_ELASTICSEARCH7_PORT
#                              HTTP port (default: a free port on 127.0.0.1)
#   SLUICE_ELASTICSEARCH_HEAP  JVM heap, -Xms = -Xmx (default 512m; both majors)
#   SLUICE_ELASTICSEARCH_JAVA_HOME, SLUICE_ELASTICSEARCH7_JAVA_HOME
#                              JDK to run it with (default: the first JDK found
#                              under /usr/lib/jvm or /opt, or $JAVA_HOME, of
#                              major 21 or 17 for 8.x, 17, 11 or 21 for 7.x)
#   SLUICE_ELASTICSEARCH_TIMEOUT  seconds to wait for the node (default 120)
#
# The distribution is the integ-test-zip from Maven Central
# (org.elasticsearch.distribution.integ-test-zip:elasticsearch:VERSION:zip,
# fetched with mvn once and cached): no bundled JDK, and only the
# transport-netty4, x-pack-core and x-pack-security modules — so no painless
# scripts, no _reindex / _update_by_query, no analysis-common analyzers, no
# ingest processors, no ML. Plain indexing, _bulk, get, search, mappings and
# the standard analyzer all work. Security is disabled (plain HTTP, no auth).
# 8.x lacks the rest-root module too: GET / answers 405; read the version from
# GET /_nodes/_local?filter_path=nodes.*.version instead (responses do carry
# X-Elastic-Product: Elasticsearch, which go-elasticsearch v8 checks).
#
# Indices default to one replica, so with one node their health is yellow
# (start waits for yellow); create them with number_of_replicas 0 for green.
#
# The node is a single-node cluster on 127.0.0.1 only (HTTP and transport),
# with disk watermarks disabled and a small heap. Works as root: Elasticsearch
# refuses to run as root, so it runs as user "sluice" (created if missing).
# Idempotent: start on a running node only prints the env line.
#
# The implementation, shared with the other search engine, is scripts/search.sh.
exec "$(dirname "$0")/search.sh" elasticsearch "$@"
