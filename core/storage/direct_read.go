package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Direct reads. A direct log (Options.DirectIO) never puts its data in the page
// cache when it writes, so a consumer reading recent data would make the kernel
// allocate page-cache pages just to copy them once to a socket. Instead ReadFile
// reads the range with O_DIRECT into reused 1 MiB buffers (or takes it from the
// read-ahead cache, readahead.go), finds the batch boundaries in memory and
// hands the bytes out as FileRead.Mem.

// directChunk is the size of one direct read.
const directChunk = 1 << 20

// directReader returns the segment's O_DIRECT read handle, opened on first use,
// or nil where the file system refuses it (or the file is gone).
func (s *segment) directReader() *os.File {
	s.lazyMu.Lock()
	defer s.lazyMu.Unlock()
	if s.rdio == nil && !s.rdioRefused {
		f, err := os.OpenFile(s.prefix+LogSuffix, os.O_RDONLY|directFlag, 0)
		if err != nil {
			s.rdioRefused = true
			return nil
		}
		s.rdio = f
		noReadahead(s.f)
	}
	return s.rdio
}

// maxDirectRead bounds what one ReadFile reads into memory for a direct log
// (a fetch may return less than it asked for; the client asks again).
const maxDirectRead = 8 << 20

// readDirect reads the whole batches from pos (the first one first bytes long,
// always whole) up to limit, at most maxDirectRead unless the first batch is
// larger, with O_DIRECT into pooled chunks. ok is false when the file system
// refuses the read (the caller uses the page cache then).
//
// The reads start at the block holding pos, not at the chunk boundary before
// it: a consumer at the end of the log reads a little at a time, and reading
// each chunk from its start would read the disk several times over (the
// read-ahead caches whole chunks; these are cached only when pos starts one).
func readDirect(f *os.File, pos, first, limit int64) (end int64, m memRange, ok bool, err error) {
	want := max(first, min(limit, pos+maxDirectRead)-pos)
	to := pos + want
	start := pos &^ (dioAlign - 1)
	m.start = start
	for p := start; p < to; p += directChunk {
		n := min(directChunk, alignUp(to)-p)
		c, rerr := readChunk(f, p, n)
		switch {
		case rerr != nil && p == start && errors.Is(rerr, syscall.EINVAL):
			m.release()
			return 0, memRange{}, false, nil
		case rerr != nil:
			m.release()
			return 0, memRange{}, false, fmt.Errorf("storage: direct read: %w", rerr)
		}
		m.chunks = append(m.chunks, c)
		if int64(len(c.data)) < min(n, to-p) {
			m.release()
			return 0, memRange{}, false, fmt.Errorf("storage: direct read at %d: %w", p, io.ErrUnexpectedEOF)
		}
	}
	end = m.walk(pos, first, min(limit, to))
	return end, m, true, nil
}
