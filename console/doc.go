// Package console is sluice's web console: one HTML page, a style sheet
// and a small hand-written script, embedded in the binary (no framework,
// nothing fetched at run time), served on /console/ by `sluice serve` and
// `sluice run --http`.
//
// The page is a client of the REST API (package controlapi) on the same
// origin and nothing else: it lists GET /pipelines with their states,
// draws a pipeline's graph from GET /pipelines/{name} (sources, processors
// and sinks linked by their inputs), its throughput, lag, snapshot
// progress (with an estimate of the time left) and last errors from GET
// /pipelines/{name}/history (metrics.History), the slots' retained WAL
// when the status has a slots field, and its buttons call PUT
// /pipelines/{name}/pause|resume, POST /pipelines/{name}/restart and POST
// /pipelines/{name}/snapshot, showing the API's error when one fails.
//
// Invariants:
//   - The assets hold no data and no secret; they are served behind the
//     same authentication as the API (the caller mounts Handler on the
//     handler httpapi.Listen protects), and the script's requests are
//     same-origin, so they carry the browser's credentials (basic
//     credentials, a client certificate) and nothing else. A browser
//     cannot send a bearer token by itself: a server protected by a token
//     alone is opened in a browser by also accepting basic credentials
//     (--auth-basic-file) or client certificates.
//   - A Content-Security-Policy allows scripts, styles and requests to the
//     server's own origin only (no inline script, no other origin), and
//     the page may not be framed; the script puts text from the API in the
//     page as text, never as HTML.
package console
