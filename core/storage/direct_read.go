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
// hands out an O_DIRECT read handle (FileRead.Direct) and SendDirect copies the
// range with aligned reads into a reused buffer.

// directChunk is the size of one direct read.
const directChunk = 1 << 20

// directBufs keeps up to directBufsKept read buffers for reuse: unlike a
// sync.Pool it is not emptied by the GC, and fresh memory is expensive
// (page faults) on the VMs this runs on.
var directBufs = bufList{c: make(chan *[]byte, directBufsKept)}

const directBufsKept = 40

type bufList struct{ c chan *[]byte }

func (l bufList) Get() *[]byte {
	select {
	case b := <-l.c:
		return b
	default:
		b := alignedBuf(directChunk)
		return &b
	}
}

func (l bufList) Put(b *[]byte) {
	select {
	case l.c <- b:
	default:
	}
}

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

// SendDirect writes n bytes of f (an O_DIRECT handle from FileRead.Direct) at
// off to w, reading whole aligned blocks into a reused buffer. If the very
// first read is refused for alignment (EINVAL), it copies from fallback (a
// buffered handle of the same file) instead.
func SendDirect(w io.Writer, f, fallback *os.File, off, n int64) error {
	bp := directBufs.Get()
	defer directBufs.Put(bp)
	buf := *bp
	first := true
	for n > 0 {
		aoff := alignDown(off)
		skip := off - aoff
		want := min(int64(len(buf)), alignUp(skip+n))
		r, err := pread(f, buf[:want], aoff)
		if err != nil {
			if first && errors.Is(err, syscall.EINVAL) && fallback != nil {
				_, err = io.Copy(w, io.NewSectionReader(fallback, off, n))
				return err
			}
			return fmt.Errorf("storage: direct read: %w", err)
		}
		first = false
		if int64(r) <= skip {
			return io.ErrUnexpectedEOF // the file is shorter than promised
		}
		chunk := min(int64(r)-skip, n)
		if _, err := w.Write(buf[skip : skip+chunk]); err != nil {
			return err
		}
		off += chunk
		n -= chunk
	}
	return nil
}

// pread is one pread(2): os.File.ReadAt would retry a short read at an
// unaligned offset, which O_DIRECT refuses.
func pread(f *os.File, b []byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			n, serr = syscall.Pread(int(fd), b, off)
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return 0, err
	}
	return n, serr
}
