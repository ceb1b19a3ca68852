package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// chromium returns the path of a Chromium to drive: $SLUICE_CHROMIUM, or
// Debian's chromium on $PATH. Without one the test is skipped with how to
// install it, or fails in CI ($CI set), where scripts/test.sh installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on $PATH (hint: apt-get install chromium, as scripts/test.sh does, or set SLUICE_CHROMIUM)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifacts is where a test saves what a person may want to look at after
// it (screenshots): $SLUICE_ARTIFACTS/<test> when set, else a temporary
// directory of the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleBrowser drives the web console of `sluice serve` in headless
// Chromium during a real PostgreSQL pipeline (source pg, processor keep,
// sinks db and file), with a bearer token: the page lists the pipeline
// RUNNING, draws its graph, shows the snapshot's progress while the
// database sink is held by a lock (back-pressure keeps the snapshot
// where it is), then a throughput above zero once rows flow; its pause
// button pauses the pipeline (PAUSED in the page and over the REST API)
// and resume resumes it; re-snapshot shows the API's answer; a pipeline
// that failed shows its error. Screenshots go to artifacts(t).
func TestConsoleBrowser(t *testing.T) {
	chrome := chromium(t)
	const rows = 3000
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE src (id int PRIMARY KEY, name text)`,
		`CREATE TABLE dst (id int PRIMARY KEY, name text)`,
		fmt.Sprintf(`INSERT INTO src SELECT g, 'n'||g FROM generate_series(1,%d) g`, rows),
		`ANALYZE src`, // the snapshot's estimate of its rows
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The lock holds the database sink's first write, and so, by
	// back-pressure, the snapshot part of the way through. It is on the
	// sink's positions table (created here as the sink creates it), the
	// first one its transaction writes: blocked there, the transaction has
	// no transaction id yet. Blocked later (on dst), it would hold one,
	// and every replication slot created on the server meanwhile, by the
	// tests of other packages running beside this one, waits for it to end.
	if _, err := db.Exec(ctx, `CREATE TABLE sluice_positions (sink text NOT NULL, source text NOT NULL,
		hi numeric(20,0) NOT NULL, lo numeric(20,0) NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sink, source))`); err != nil {
		t.Fatal(err)
	}
	lock := pgtest.Connect(t, dsn)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE sluice_positions IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	art := artifacts(t)
	blocker := filepath.Join(dir, "blocker") // a file, where the broken pipeline wants a directory
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	writePipelineAs(t, dir, "p.yaml", fmt.Sprintf(`name: p
sources:
  pg:
    type: postgres
    dsn: ${CONSOLE_DSN}
    tables: [public.src]
    snapshot_chunk_rows: 100
    batch_size: 100
    slot: %s
processors:
  keep:
    type: filter
    inputs: [pg]
    condition: "true"
sinks:
  db:
    type: postgres
    inputs: [keep]
    dsn: ${CONSOLE_DSN}
    table: dst
  file:
    type: file
    inputs: [keep]
    path: %s
    format: row
engine:
  max_inflight: 4
`, uniqueSlot(), filepath.Join(dir, "out.jsonl")))
	// A pipeline that fails at once: its error is on the page.
	writePipelineAs(t, dir, "broken.yaml", fmt.Sprintf(`name: broken
sources:
  gen:
    type: generator
    rate: 10
sinks:
  out:
    type: file
    inputs: [gen]
    path: %s
engine:
  start_retry: {fail_fast: true}
`, filepath.Join(blocker, "x.jsonl")))
	srv := startServe(t, dir, []string{"CONSOLE_DSN=" + dsn, "SLUICE_AUTH_TOKEN=" + testToken},
		"--state-dir", filepath.Join(dir, "serve"), filepath.Join(dir, "p.yaml"), filepath.Join(dir, "broken.yaml"))
	authz := "Bearer " + testToken
	c := http.DefaultClient
	// The console is behind the API's authentication.
	if r := request(t, c, "GET", srv.url+"/console/", "", ""); r.code != 401 {
		t.Fatalf("GET /console/ without the token: %d %q", r.code, r.body)
	}
	restState := func(name string) (state, errText string) {
		r := request(t, c, "GET", srv.url+"/pipelines/"+name+"/status", authz, "")
		var st pipeStatus
		if r.code != 200 || json.Unmarshal([]byte(r.body), &st) != nil {
			t.Fatalf("GET /pipelines/%s/status: %d %q", name, r.code, r.body)
		}
		return st.State, st.Error
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1200))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first run starts the browser with bctx (a timeout on that one
	// would stop the browser); every action after it has a deadline.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	limit := func() (context.Context, context.CancelFunc) { return context.WithTimeout(bctx, 20*time.Second) }
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := limit()
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v; sluice stderr (tail):\n%s", what, err, stderrTail(dir))
		}
	}
	// eval returns the string a JavaScript expression gives in the page.
	eval := func(expr string) string {
		t.Helper()
		ctx, cancel := limit()
		defer cancel()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("browser: evaluate %s: %v", expr, err)
		}
		return out
	}
	text := func(sel string) string {
		q, _ := json.Marshal(sel)
		return eval(fmt.Sprintf(`(document.querySelector(%s) || {textContent: ""}).textContent`, q))
	}
	shot := func(name string) {
		t.Helper()
		ctx, cancel := limit()
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("browser: screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(art, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// waitPage waits for cond over what the page shows (read by get).
	waitPage := func(what string, get func() string, cond func(string) bool) string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			last := get()
			if cond(last) {
				return last
			}
			if time.Now().After(deadline) {
				shot("failure.png")
				t.Fatalf("timed out waiting for %s in the page (it shows %q; see %s/failure.png); sluice stderr (tail):\n%s", what, last, art, stderrTail(dir))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }

	// The browser sends the token with every request, as a proxy in
	// front of it would.
	withToken := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": authz}})
		return err
	})
	run("open the console", withToken, chromedp.Navigate(srv.url+"/console/#p"))
	list := func() string {
		return eval(`[...document.querySelectorAll("#pipelines tbody tr")].map(r => r.dataset.name + "=" + r.cells[1].textContent).join(",")`)
	}
	waitPage("the pipelines", list, is("broken=FAILED,p=RUNNING"))
	waitPage("the selected pipeline", func() string { return text("#name") + " " + text("#state") }, is("p RUNNING"))
	waitPage("the graph's nodes", func() string {
		return eval(`[...document.querySelectorAll("#graph g.node")].map(g => g.dataset.kind + ":" + g.dataset.node).join(",")`)
	}, is("source:pg,processor:keep,sink:db,sink:file"))
	if got := eval(`[...document.querySelectorAll("#graph path.edge")].map(e => e.dataset.from + ">" + e.dataset.to).join(",")`); got != "pg>keep,keep>db,keep>file" {
		t.Errorf("graph edges %q", got)
	}

	// The snapshot, held by the lock: part of the rows read, of the
	// estimated 3,000.
	progress := regexp.MustCompile(`^pg: ([\d,]+) rows of ~3,000 \((\d+)%\), [\d.,]+ rows/s, (about \w+ left|time left unknown)$`)
	snap := waitPage("the snapshot's progress", func() string { return text(`#snapshots .progress[data-source="pg"] .text`) }, func(s string) bool {
		m := progress.FindStringSubmatch(s)
		return m != nil && m[1] != "0"
	})
	read, _ := strconv.Atoi(strings.ReplaceAll(progress.FindStringSubmatch(snap)[1], ",", ""))
	if read >= rows {
		t.Errorf("snapshot progress %q: the lock should hold it before %d rows", snap, rows)
	}
	if got := text("#state"); got != "RUNNING" {
		t.Errorf("state %q during the snapshot, want RUNNING", got)
	}
	// The held sink waits without a transaction id (see the lock).
	var held []string
	if err := db.QueryRow(ctx, `SELECT coalesce(array_agg(concat_ws(' ', pid, application_name, 'xid=' || backend_xid, state, left(query, 120))), '{}')
		FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if len(held) > 0 {
		t.Errorf("sessions holding a transaction id while the sink is held (they hold up every replication slot's creation on the server): %q", held)
	}
	shot("1-snapshot.png")

	// Let the rows flow, and keep changes coming: the throughput is above
	// zero, the database sink has every snapshot row.
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	stopLoad := make(chan struct{})
	var loadDone sync.WaitGroup
	loadDone.Add(1)
	go func() {
		defer loadDone.Done()
		tick := time.NewTicker(20 * time.Millisecond) // a steady workload, not synchronisation
		defer tick.Stop()
		for id := rows + 1; ; id++ {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
				if _, err := db.Exec(ctx, `INSERT INTO src VALUES ($1, 'w')`, id); err != nil {
					t.Errorf("workload: %v", err)
					return
				}
			}
		}
	}()
	defer func() { close(stopLoad); loadDone.Wait() }()
	number := func(s string) float64 {
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
		if err != nil {
			return -1
		}
		return f
	}
	waitPage("the database sink's throughput", func() string {
		return text(`#throughput tr[data-node="db"] .rate`) + " " + text(`#throughput tr[data-node="db"] .total`)
	}, func(s string) bool {
		rate, total, _ := strings.Cut(s, " ")
		return number(rate) > 0 && number(total) >= rows
	})
	if got := text(`#throughput tr[data-stream="pg.public.src"] .total`); number(got) < rows {
		t.Errorf("stream pg.public.src: %q events, want at least %d", got, rows)
	}
	if got := text(`#throughput tr[data-node="pg"] .lag`); !regexp.MustCompile(`^[\d.,]+ s$`).MatchString(got) {
		t.Errorf("source lag %q", got)
	}
	if got := eval(`[...document.querySelectorAll("#throughput-chart polyline")].map(p => p.dataset.series).join(",")`); got != "pg,db,file" {
		t.Errorf("throughput chart's series %q, want pg,db,file", got)
	}
	// The slot's retained WAL, sampled while the page reads the history.
	waitPage("the slot's retained WAL", func() string {
		return text(`#gauges tr[data-gauge="sluice_postgres_slot_retained_wal_bytes"]`)
	}, regexp.MustCompile(`^pgpostgres slot retained wal bytes[\d.,]+ (B|KiB|MiB|GiB)$`).MatchString)
	shot("2-running.png")

	// Pause, then resume, from the page.
	run("click pause", chromedp.Click(chromedp.ID("pause")))
	waitPage("PAUSED", func() string { return text("#state") }, is("PAUSED"))
	if st, _ := restState("p"); st != "PAUSED" {
		t.Errorf("REST state after pause: %s", st)
	}
	if got := text("#message"); got != "pause p: accepted" {
		t.Errorf("message after pause %q", got)
	}
	shot("3-paused.png")
	run("click resume", chromedp.Click(chromedp.ID("resume")))
	waitPage("RUNNING again", func() string { return text("#state") }, is("RUNNING"))
	if st, _ := restState("p"); st != "RUNNING" {
		t.Errorf("REST state after resume: %s", st)
	}

	// Re-snapshot calls POST /pipelines/p/snapshot and shows its answer:
	// accepted, or the API's error as "METHOD /PATH: CODE MESSAGE" (404
	// where the server has no such endpoint).
	run("re-snapshot", chromedp.SendKeys(chromedp.ID("snapshot-tables"), "public.src"), chromedp.Click(chromedp.ID("snapshot")))
	msg := waitPage("re-snapshot's answer", func() string { return text("#message") }, func(s string) bool { return s != "resume p: accepted" && s != "" })
	if msg != "snapshot p: accepted" && !regexp.MustCompile(`^POST /pipelines/p/snapshot: [45]\d\d \S.*$`).MatchString(msg) {
		t.Errorf("message after re-snapshot %q", msg)
	}

	// The failed pipeline shows its error.
	_, wantErr := restState("broken")
	if wantErr == "" {
		t.Fatal("pipeline broken has no error over the REST API")
	}
	run("select broken", chromedp.Click(chromedp.CSS(`#pipelines tr[data-name="broken"]`)))
	waitPage("broken's error", func() string { return text("#name") + " " + text("#state") + " " + text("#error") }, is("broken FAILED FAILED: "+wantErr))
	if got := text(`#errors li[data-kind="failed"] .text`); got != wantErr {
		t.Errorf("last errors: %q, want %q", got, wantErr)
	}
	shot("4-failed.png")
	t.Logf("screenshots in %s", art)
	srv.stop(t)
}
