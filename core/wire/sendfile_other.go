//go:build !(linux || darwin || freebsd)

package wire

import (
	"net"
	"os"
)

// sendFile copies n bytes of f at off to the connection through a buffer (no
// sendfile(2) here). It never moves f's file offset.
func sendFile(nc net.Conn, f *os.File, off, n int64) error {
	return copyFile(nc, f, off, n)
}
