package wire

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// MarkerLen is the length of a FileRange marker.
const MarkerLen = 16

// FileRange stands for one bytes field of a response whose content is sent from a file
// with sendfile(2), so record data never passes through user space.
//
// The handler sets the field to Marker[:] (a random, unique 16-byte value from
// NewMarker) and lists the FileRange in Reply.Files, in the order the fields appear in
// the encoded response. The writer encodes the response with kmsg, finds each marker,
// and sends: the bytes before it with the field's length prefix rewritten for Len, then
// Len bytes of File from Off, then the rest. Only a field that is a bytes field of the
// response (int32 length prefix, or compact uvarint length+1 in flexible versions) may
// be marked; nothing else in the Kafka protocol depends on a field's byte length but the
// frame size, which the writer adjusts.
type FileRange struct {
	Marker  [MarkerLen]byte
	File    *os.File
	Off     int64
	Len     int64
	Release func() // called once the range has been sent (or dropped)
	// Mem, if set, holds the range's Len bytes (in pieces, in order), sent
	// from memory instead of with sendfile(2) (direct I/O reads).
	Mem [][]byte
}

// NewMarker returns a random marker.
func NewMarker() [MarkerLen]byte {
	var m [MarkerLen]byte
	_, _ = rand.Read(m[:])
	return m
}

// ReleaseFiles releases file ranges that will not be sent.
func ReleaseFiles(fs []FileRange) {
	for _, f := range fs {
		if f.Release != nil {
			f.Release()
		}
	}
}

// writeWithFiles writes buf[:start] (earlier responses) and then the response in
// buf[start:], splicing in its file ranges. It returns the response's size on the wire.
func (c *Conn) writeWithFiles(buf []byte, start int, flexible bool, files []FileRange) (int, error) {
	defer ReleaseFiles(files)
	resp := buf[start:]
	type cut struct {
		prefixAt, dataEnd int // the marker's length prefix and the marker's end in resp
	}
	cuts := make([]cut, len(files))
	from := 8 // past the frame size and correlation id
	oldPrefix := 4
	if flexible {
		oldPrefix = 1 // uvarint(16+1)
	}
	size := int64(len(resp))
	for i, f := range files {
		j := bytes.Index(resp[from:], f.Marker[:])
		if j < 0 {
			return 0, fmt.Errorf("wire: file range marker %d not found in response", i)
		}
		m := from + j
		cuts[i] = cut{prefixAt: m - oldPrefix, dataEnd: m + MarkerLen}
		from = m + MarkerLen
		size += int64(len(lengthPrefix(nil, f.Len, flexible))) + f.Len - int64(oldPrefix) - MarkerLen
	}
	if size-4 > 1<<31-1 {
		return 0, errors.New("wire: response too large")
	}
	binary.BigEndian.PutUint32(resp, uint32(size-4))
	// Everything up to the next range sent with sendfile goes out in one
	// writev: earlier responses, the encoded pieces, the new length prefixes
	// (in a buffer of their own: resp's bytes must stay as they are until
	// sent) and the ranges held in memory. A fetch of 3 partitions from
	// memory is one system call instead of about 10 writes.
	iov := append(c.iov[:0], buf[:start])
	pre := c.prefixes[:0]
	if need := binary.MaxVarintLen32 * len(files); cap(pre) < need {
		pre = make([]byte, 0, need) // never grows below: iov points into it
	}
	prev := 0
	for i, f := range files {
		at := len(pre)
		pre = lengthPrefix(pre, f.Len, flexible)
		iov = append(iov, resp[prev:cuts[i].prefixAt], pre[at:])
		prev = cuts[i].dataEnd
		if f.Mem != nil {
			iov = append(iov, f.Mem...)
			continue
		}
		if err := c.writeBuffers(&iov); err != nil {
			return 0, err
		}
		if err := sendFile(c.nc, f.File, f.Off, f.Len); err != nil {
			return 0, err
		}
	}
	iov = append(iov, resp[prev:])
	if err := c.writeBuffers(&iov); err != nil {
		return 0, err
	}
	c.iov, c.prefixes = iov[:0], pre[:0]
	return int(size), nil
}

// writeBuffers writes *iov with as few system calls as the connection
// allows (writev on a TCP connection) and empties it, keeping its array.
func (c *Conn) writeBuffers(iov *net.Buffers) error {
	v := *iov
	_, err := v.WriteTo(c.nc)
	clear(*iov) // drop the references to memory just sent
	*iov = (*iov)[:0]
	return err
}

// lengthPrefix appends the length prefix of a non-null bytes field.
func lengthPrefix(dst []byte, n int64, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n+1))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func copyFile(w io.Writer, f *os.File, off, n int64) error {
	_, err := io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}
