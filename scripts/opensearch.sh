#!/usr/bin/env bash
# scripts/opensearch.sh — a throw-away OpenSearch 2.x for sluice's tests.
#
#   eval "$(scripts/opensearch.sh start)"   # unzip + start, prints the export line
#   scripts/opensearch.sh env               # prints the export line again
#   scripts/opensearch.sh stop              # stops the node and removes its directory
#
# Options (environment):
#   SLUICE_TMP                 base directory; the node lives in $SLUICE_TMP/opensearch
#                              (default /tmp/sluice-opensearch)
#   SLUICE_CACHE               where downloaded zips are kept (default ~/.cache/sluice)
#   SLUICE_OPENSEARCH_VERSION  version to run (default 2.19.4)
#   SLUICE_OPENSEARCH_PORT     HTTP port (default: a free port on 127.0.0.1)
#   SLUICE_OPENSEARCH_HEAP     JVM heap, -Xms = -Xmx (default 512m)
#   SLUICE_OPENSEARCH_JAVA_HOME  JDK to run it with (default: the first JDK 21,
#                              17 or 11 found under /usr/lib/jvm or /opt, or $JAVA_HOME)
#   SLUICE_OPENSEARCH_TIMEOUT  seconds to wait for the node (default 120)
#
# The distribution is the integ-test-zip from Maven Central
# (org.opensearch.distribution.integ-test-zip:opensearch:VERSION:zip, fetched
# with mvn once and cached): no bundled JDK, no security plugin, and only the
# transport-netty4 module — so no painless scripts, no _reindex /
# _update_by_query, no analysis-common analyzers, no ingest processors. Plain
# indexing, _bulk, get, search, mappings and the standard analyzer all work.
#
# Indices default to one replica, so with one node their health is yellow
# (start waits for yellow); create them with number_of_replicas 0 for green.
#
# The node is a single-node cluster on 127.0.0.1 only (HTTP and transport),
# with disk watermarks disabled and a small heap. Works as root: OpenSearch
# refuses to run as root, so it runs as user "sluice" (created if missing).
# Idempotent: start on a running node only prints the env line.
#
# The implementation, shared with the other search engine, is scripts/search.sh.
exec "$(dirname "$0")/search.sh" opensearch "$@"
