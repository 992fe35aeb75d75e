//go:build linux || darwin || freebsd

package wire

import (
	"io"
	"net"
	"os"
	"syscall"
)

// sendFile copies n bytes of f at off to the connection: sendfile(2) where the
// connection is a socket, else through a buffer. It never moves f's file offset, so
// concurrent senders of one file are safe.
func sendFile(nc net.Conn, f *os.File, off, n int64) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return copyFile(nc, f, off, n)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return copyFile(nc, f, off, n)
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return copyFile(nc, f, off, n)
	}
	var serr error
	ferr := fc.Read(func(ffd uintptr) bool {
		werr := rc.Write(func(sfd uintptr) bool {
			for n > 0 {
				w, err := syscall.Sendfile(int(sfd), int(ffd), &off, int(min(n, 1<<30)))
				if w > 0 {
					n -= int64(w)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until writable
				case err == syscall.EINTR:
				case err != nil:
					serr = err
					return true
				case w == 0:
					serr = io.ErrUnexpectedEOF // the file is shorter than promised
					return true
				}
			}
			return true
		})
		if werr != nil && serr == nil {
			serr = werr
		}
		return true
	})
	if ferr != nil && serr == nil {
		serr = ferr
	}
	return serr
}
