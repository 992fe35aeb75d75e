package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Codecs decompresses and compresses record data exactly like Decompress and
// Compress, but into buffers it keeps and with decoder and encoder state of its
// own, so that a loop over many batches (the log cleaner) allocates next to
// nothing once the buffers have grown. Results alias those buffers: what
// Decompress or RecordData returns stays valid until the next call of either,
// what Compress returns until the next Compress or AppendBatch. A Codecs is not
// safe for concurrent use; the zero value is ready.
type Codecs struct {
	dec, enc []byte
	src      bytes.Reader
	w        sliceWriter
	gzr      *gzip.Reader
	gzw      *gzip.Writer
	lzr      *lz4.Reader
	lzw      *lz4.Writer
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Decompress is Decompress with a bound (max > 0; else DefaultMaxDecompressed)
// into c's buffer. For CodecNone it returns src itself.
func (c *Codecs) Decompress(codec Codec, src []byte, max int) (out []byte, err error) {
	if max <= 0 {
		max = DefaultMaxDecompressed
	}
	defer func() {
		// Third-party decoders fed with stored bytes: a decoder bug fails one
		// batch, not the broker.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("batch: decompress %s: decoder panic: %v", codec, r)
		}
	}()
	switch codec {
	case CodecNone:
		if len(src) > max {
			err = ErrDecompressLimit
		}
		out = src
	case CodecGzip:
		c.src.Reset(src)
		if c.gzr == nil {
			c.gzr, err = gzip.NewReader(&c.src)
		} else {
			err = c.gzr.Reset(&c.src)
		}
		if err == nil {
			out, err = c.readAll(c.gzr, max)
		}
	case CodecSnappy:
		out, err = decodeSnappy(c.dec[:cap(c.dec)], src, max)
		if err == nil && cap(out) > cap(c.dec) {
			c.dec = out[:0]
		}
	case CodecLZ4:
		c.src.Reset(src)
		if c.lzr == nil {
			c.lzr = lz4.NewReader(&c.src)
		} else {
			c.lzr.Reset(&c.src)
		}
		out, err = c.readAll(c.lzr, max)
	case CodecZstd:
		var d interface {
			DecodeAll(input, dst []byte) ([]byte, error)
		}
		if d, err = zstdDecoder(max); err == nil {
			out, err = d.DecodeAll(src, c.dec[:0])
			if cap(out) > cap(c.dec) {
				c.dec = out[:0]
			}
			if err != nil && isZstdLimit(err) || len(out) > max {
				err = ErrDecompressLimit
			}
		}
	default:
		return nil, fmt.Errorf("batch: decompress: unknown codec %s", codec)
	}
	if err != nil {
		if errors.Is(err, ErrDecompressLimit) {
			return nil, fmt.Errorf("batch: decompress %s: output exceeds %d bytes: %w", codec, max, ErrDecompressLimit)
		}
		return nil, fmt.Errorf("batch: decompress %s: %w", codec, err)
	}
	return out, nil
}

// readAll reads r to its end into c.dec, failing with ErrDecompressLimit once
// more than max bytes come out.
func (c *Codecs) readAll(r io.Reader, max int) ([]byte, error) {
	buf := c.dec[:0]
	defer func() { c.dec = buf[:0] }()
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), max)+16<<10)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return nil, ErrDecompressLimit
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Compress is Compress into c's buffer. For CodecNone it returns src itself.
func (c *Codecs) Compress(codec Codec, src []byte) ([]byte, error) {
	c.w.b = c.enc[:0]
	defer func() { c.enc = c.w.b[:0] }()
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		if c.gzw == nil {
			c.gzw = gzip.NewWriter(&c.w)
		} else {
			c.gzw.Reset(&c.w)
		}
		if _, err := c.gzw.Write(src); err != nil {
			return nil, fmt.Errorf("batch: compress gzip: %w", err)
		}
		if err := c.gzw.Close(); err != nil {
			return nil, fmt.Errorf("batch: compress gzip: %w", err)
		}
	case CodecSnappy:
		n := snappy.MaxEncodedLen(len(src))
		if n < 0 {
			return nil, fmt.Errorf("batch: compress snappy: %d bytes is too large", len(src))
		}
		c.w.b = slices.Grow(c.w.b, n)
		c.w.b = snappy.Encode(c.w.b[:n], src)
	case CodecLZ4:
		if c.lzw == nil {
			c.lzw = newLZ4Writer()
		}
		c.lzw.Reset(&c.w)
		if _, err := c.lzw.Write(src); err != nil {
			return nil, fmt.Errorf("batch: compress lz4: %w", err)
		}
		if err := c.lzw.Close(); err != nil {
			return nil, fmt.Errorf("batch: compress lz4: %w", err)
		}
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, fmt.Errorf("batch: compress zstd: %w", err)
		}
		c.w.b = enc.EncodeAll(src, c.w.b)
	default:
		return nil, fmt.Errorf("batch: compress: unknown codec %s", codec)
	}
	return c.w.b, nil
}

// RecordData returns the record bytes of the whole batch b (header h, as
// ParseHeader returned it), decompressed into c's buffer when b is
// compressed, producing at most max bytes (<= 0: DefaultMaxDecompressed).
// Errors are *Error values (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
// UNSUPPORTED_COMPRESSION_TYPE), as for Records.
func (c *Codecs) RecordData(b []byte, h Header, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxDecompressed
	}
	if h.Length < minLength || h.TotalSize() > len(b) {
		return nil, errorf(kerr.CorruptMessage, "length field %d does not fit the %d bytes given", h.Length, len(b))
	}
	return recordDataWith(b, h, max, c.Decompress)
}

// AppendBatch appends to dst a batch that holds the n records whose
// encodings (as RecordIter.Next returns them) are concatenated in records,
// compressed with codec, under h's header: base offset, leader epoch,
// attributes (but the codec bits), last offset delta, base and max timestamp
// and the producer fields are h's; magic, length, record count and CRC are
// computed. A record's encoding holds deltas from the base offset and base
// timestamp, so records keep their offsets and timestamps. The log cleaner
// uses it to write a batch without the records it drops.
func (c *Codecs) AppendBatch(dst []byte, h Header, codec Codec, records []byte, n int32) ([]byte, error) {
	body, err := c.Compress(codec, records)
	if err != nil {
		return dst, err
	}
	h.Magic = MagicV2
	h.Attributes = h.Attributes&^AttrCodecMask | int16(codec)
	h.NumRecords = n
	h.Length = int32(HeaderLen - LogOverhead + len(body))
	h.CRC = 0
	start := len(dst)
	dst = appendHeader(dst, h)
	dst = append(dst, body...)
	binary.BigEndian.PutUint32(dst[start+offCRC:], CRC(dst[start:]))
	return dst, nil
}

// newLZ4Writer returns an LZ4 frame writer configured as Java's producer
// writes frames (64 KiB blocks), without goroutines.
func newLZ4Writer() *lz4.Writer {
	w := lz4.NewWriter(nil)
	_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb))
	return w
}
