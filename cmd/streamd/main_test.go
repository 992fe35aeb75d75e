package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is what one streamd invocation printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// streamd runs the command line in-process, exactly as main does, with
// stdin as input.
func streamd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// ok runs streamd and fails the test unless it exits 0.
func ok(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := streamd(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("streamd %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// fails runs streamd, expects exit 1 and exactly one stderr line of the
// form "streamd: ..." containing want.
func fails(t *testing.T, want, stdin string, args ...string) {
	t.Helper()
	r := streamd(t, stdin, args...)
	if r.code != 1 {
		t.Fatalf("streamd %s: exit %d (stdout %q stderr %q), want 1", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "streamd: ") {
		t.Fatalf("streamd %s: stderr %q, want one line starting with \"streamd: \"", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("streamd %s: stderr %q, want it to contain %q", strings.Join(args, " "), r.stderr, want)
	}
}

// table returns the whitespace-separated rows of the table whose header line
// starts with header, up to the next blank line.
func table(t *testing.T, out, header string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	for l := range strings.SplitSeq(out, "\n") {
		switch {
		case !in && strings.HasPrefix(l, header):
			in = true
		case in && strings.TrimSpace(l) == "":
			return rows
		case in:
			rows = append(rows, strings.Fields(l))
		}
	}
	if !in {
		t.Fatalf("no table with header %q in:\n%s", header, out)
	}
	return rows
}

// row returns the row of rows whose first column is key, or nil.
func row(rows [][]string, key string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == key {
			return r
		}
	}
	return nil
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
