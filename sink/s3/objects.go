package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// uploads is one background upload of sealed spools, oldest first. The
// goroutine only reads the sealed files (immutable) and puts objects; the
// bookkeeping (state file, removing spool files, s.sealed) happens in
// joinUploads, under s.mu, so the in-memory state has one owner.
type uploads struct {
	sps  []*spool
	done chan struct{}
	n    int   // spools uploaded, a prefix of sps
	err  error // why the next one failed
}

// startUploads uploads every sealed spool in the background, unless an
// upload is in flight.
func (s *Sink) startUploads() {
	if s.up != nil || len(s.sealed) == 0 {
		return
	}
	u := &uploads{sps: append([]*spool(nil), s.sealed...), done: make(chan struct{})}
	s.up = u
	go func() {
		defer close(u.done)
		for _, sp := range u.sps {
			if u.err = s.put(s.upCtx, sp); u.err != nil {
				return
			}
			u.n++
		}
	}()
}

func (u *uploads) finished() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

// pace is how a Write that has spooled its events treats the background
// upload: a finished one is joined (its spools removed, the marks saved);
// one still running is left to run, unless objects were sealed behind it,
// which it then waits for. So the upload of one object overlaps the
// spooling of the next (the engine is not held for the upload of every
// object), while the sealed objects waiting for S3 stay few: those of the
// upload in flight and those one Write sealed. A failure is seen when the
// upload is joined, and the next Write retries synchronously.
func (s *Sink) pace() {
	u := s.up
	if u == nil {
		return
	}
	if u.finished() || len(s.sealed) > len(u.sps) {
		s.joinUploads()
	}
}

// joinUploads waits for the background upload and records its outcome.
func (s *Sink) joinUploads() {
	u := s.up
	if u == nil {
		return
	}
	<-u.done
	s.up = nil
	for _, sp := range u.sps[:u.n] {
		if err := s.finish(sp); err != nil {
			u.err = err
			break
		}
	}
	s.upFailed = u.err != nil
	if u.err != nil {
		s.log.Warn("s3 sink: upload failed; the object stays in the spool and is retried by the next write", "err", u.err)
	}
}

// discardUploads waits for the background upload and forgets it: the spool
// is about to be reloaded from disk, and uploaded objects whose spool files
// remain are put again (same name, same content).
func (s *Sink) discardUploads() {
	if s.up != nil {
		<-s.up.done
		s.up = nil
	}
}

// uploadSealed uploads the sealed spools now, oldest first (no background
// upload is in flight).
func (s *Sink) uploadSealed(ctx context.Context) error {
	for len(s.sealed) > 0 {
		if err := s.put(ctx, s.sealed[0]); err != nil {
			s.upFailed = true
			return err
		}
		if err := s.finish(s.sealed[0]); err != nil {
			s.upFailed = true
			return err
		}
	}
	s.upFailed = false
	return nil
}

// put puts sp's object: a JSON-lines object straight from the sealed
// spool file (see payloads), a Parquet object built in a file beside it
// first. finish then records the high-water marks and removes the spool
// file. A crash anywhere in between leaves the sealed spool, which the next
// run uploads again under the same name with the same content.
func (s *Sink) put(ctx context.Context, sp *spool) error {
	var obj object
	if sp.hdr.Format == Parquet {
		path := strings.TrimSuffix(sp.path, ".sealed") + ".obj"
		if err := s.build(sp, path); err != nil {
			return err
		}
		defer os.Remove(path)
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("s3 sink: open object file: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("s3 sink: open object file: %w", err)
		}
		obj = object{name: path, r: f, size: st.Size()}
	} else {
		var part int64
		if h, ok := s.store.(payloadHasher); ok {
			part = h.hashPart(sp.bytes)
		}
		p, err := openPayloads(sp, part)
		if err != nil {
			return err
		}
		defer p.close()
		obj = object{name: sp.path, r: p, size: p.size}
	}
	// The spool's own format names the object: the configuration may have
	// changed since it was written.
	ext, ct := "jsonl", "application/x-ndjson"
	if sp.hdr.Format == Parquet {
		ext, ct = "parquet", "application/vnd.apache.parquet"
	}
	key := objectKey(s.cfg.Prefix, sp.hdr.Dir, sp.hdr.Stream, sp.first, sp.last, ext)
	if err := s.store.put(ctx, key, obj, ct); err != nil {
		return err
	}
	s.log.Debug("s3 sink: uploaded", "key", key, "records", sp.count)
	return nil
}

// finish completes the upload of the oldest sealed spool, sp.
func (s *Sink) finish(sp *spool) error {
	if len(s.sealed) == 0 || s.sealed[0] != sp {
		return errors.New("s3 sink: uploads out of order (a bug)")
	}
	if err := s.fault(stepPut); err != nil {
		return err
	}
	if err := s.saveState(); err != nil {
		return err
	}
	if err := s.fault(stepSaved); err != nil {
		return err
	}
	if err := os.Remove(sp.path); err != nil {
		return fmt.Errorf("s3 sink: remove uploaded spool: %w", err)
	}
	s.sealed = s.sealed[1:]
	return nil
}

// build writes the Parquet object of a sealed spool to path, reading the
// spool once with one reused record buffer (the column writer copies what
// it keeps).
func (s *Sink) build(sp *spool, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("s3 sink: create object file: %w", err)
	}
	defer out.Close()
	in, err := os.Open(sp.path)
	if err != nil {
		return fmt.Errorf("s3 sink: open spool: %w", err)
	}
	defer in.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	cw, err := newColumnWriter(w, schemaName(sp.hdr.Stream, sp.hdr.Version), sp.hdr.Cols, s.cfg.Compression, filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("s3 sink: build parquet object from %s: %w", sp.path, err)
	}
	var werr error // the writer's error; replayFile's own errors name the spool
	err = sp.replayFile(in, false, func(flags byte, _ pos, _ int64, payload []byte) error {
		if flags&recHeader != 0 {
			return nil
		}
		werr = cw.add(payload)
		return werr
	})
	if err == nil {
		werr = cw.close()
		if werr == nil {
			werr = w.Flush()
		}
	}
	if werr != nil {
		return fmt.Errorf("s3 sink: build parquet object from %s: %w", sp.path, werr)
	}
	if err != nil {
		return err
	}
	return out.Close()
}
