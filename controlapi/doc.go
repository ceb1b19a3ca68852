// Package controlapi is sluice's own REST API over a supervisor's
// pipelines, served by `sluice serve` beside Kafka Connect's API (package
// frontdoor/connect) and read by the web console:
//
//	GET  /pipelines                  every pipeline's status, by name
//	GET  /pipelines/{name}           its status and its nodes (no configuration values)
//	GET  /pipelines/{name}/status    its status
//	GET  /pipelines/{name}/history   its throughput, lag and snapshot progress over
//	                                 the last minutes, and its last errors
//	                                 (metrics.History; the web console's charts)
//	PUT  /pipelines/{name}/pause     202; hold its sources
//	PUT  /pipelines/{name}/resume    202; let them go on
//	PUT  /pipelines/{name}/stop      202; drain and stop (STOPPED)
//	POST /pipelines/{name}/restart   202; stop and start from its checkpoint
//	POST /pipelines/{name}/snapshot  202; incremental snapshot: {"tables": [...], "conditions": [{"table", "filter"}]}
//
// Errors have Kafka Connect's shape, {"error_code": N, "message": "…"}, so
// one client handles both APIs.
//
// `sluice run --http` serves the same API over its pipelines, which are
// all files whose target is not stored (it lasts as long as the process).
// A pipeline is either loaded from a file at start (`sluice serve
// pipelines/`) or a connector's (created over the Connect API). The
// actions above drive file pipelines only: a connector's pipeline answers
// 409 pointing at /connectors/{name}/…, because its target state belongs
// to the connector's stored record and must not drift from it.
//
// Invariants:
//   - A file pipeline's target state (paused, stopped) is stored in its
//     state directory before the action is answered (Targets), so it comes
//     back after a restart or kill -9, as a connector's does.
//   - Nothing served holds a configuration value: the nodes are listed by
//     name, type and inputs; an error is the supervisor's, which by
//     invariant 5 names no secret, and is scrubbed again of the values a
//     Scrub function knows.
package controlapi
