package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxDecompressed bounds what Decompress produces (256 MiB), so that a
// small hostile batch cannot make the broker allocate without limit.
const DefaultMaxDecompressed = 256 << 20

// xerialMagic starts a snappy-java ("xerial") framed stream, which the Java
// producer writes: the magic, a big-endian int32 version and an int32
// minimum-compatible version (16 bytes), then chunks of a big-endian int32
// length and a raw snappy block. Part of the format.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16 // magic + version + compatible version: part of the format

// Decompress returns the decompressed form of src, a batch's record data
// compressed with c, producing at most DefaultMaxDecompressed bytes
// (ErrDecompressLimit beyond). For CodecNone it returns src itself. Snappy
// input may be a raw snappy block or xerial-framed; lz4 input is an LZ4 frame.
// It never panics on garbage input.
func Decompress(c Codec, src []byte) ([]byte, error) {
	return DecompressMax(c, src, DefaultMaxDecompressed)
}

// DecompressMax is Decompress with an explicit bound (max > 0) on the output.
func DecompressMax(c Codec, src []byte, max int) (out []byte, err error) {
	if max <= 0 {
		max = DefaultMaxDecompressed
	}
	defer func() {
		// The codecs are third-party code fed with untrusted bytes: a
		// decoder bug must fail one batch, not the broker.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("batch: decompress %s: decoder panic: %v", c, r)
		}
	}()
	switch c {
	case CodecNone:
		out = src
		if len(out) > max {
			err = ErrDecompressLimit
		}
	case CodecGzip:
		out, err = decodeGzip(src, max)
	case CodecSnappy:
		out, err = decodeSnappy(nil, src, max)
	case CodecLZ4:
		out, err = decodeLZ4(src, max)
	case CodecZstd:
		out, err = decodeZstd(src, max)
	default:
		return nil, fmt.Errorf("batch: decompress: unknown codec %s", c)
	}
	if err != nil {
		if errors.Is(err, ErrDecompressLimit) {
			return nil, fmt.Errorf("batch: decompress %s: output exceeds %d bytes: %w", c, max, ErrDecompressLimit)
		}
		return nil, fmt.Errorf("batch: decompress %s: %w", c, err)
	}
	return out, nil
}

// Compress compresses src with c the way Kafka producers do: a gzip stream,
// a raw snappy block (as franz-go sends; Decompress also reads xerial), an LZ4
// frame with 64 KiB blocks, or a zstd frame. CodecNone returns src itself.
func Compress(c Codec, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return src, nil
	case CodecGzip:
		var buf bytes.Buffer
		w := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(w)
		w.Reset(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("batch: compress gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("batch: compress gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		return snappy.Encode(nil, src), nil
	case CodecLZ4:
		var buf bytes.Buffer
		w := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(w)
		w.Reset(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("batch: compress lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("batch: compress lz4: %w", err)
		}
		w.Reset(nil)
		return buf.Bytes(), nil
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, fmt.Errorf("batch: compress zstd: %w", err)
		}
		return enc.EncodeAll(src, make([]byte, 0, len(src)/2+64)), nil
	}
	return nil, fmt.Errorf("batch: compress: unknown codec %s", c)
}

var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	gzipReaders sync.Pool // *gzip.Reader; a new one needs a valid header, so no New
	// Java's producer writes 64 KiB blocks; smaller blocks also keep pooled
	// writers small. Concurrency stays 1: no goroutines.
	lz4Writers = sync.Pool{New: func() any { return newLZ4Writer() }}
	lz4Readers = sync.Pool{New: func() any { return lz4.NewReader(nil) }}

	// zstdEncoder is shared: EncodeAll is safe for concurrent use and, with
	// no writer attached, starts no goroutines.
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	})
	// zstdDecoders holds one shared decoder per output bound (in practice
	// one or two bounds are used). DecodeAll is safe for concurrent use
	// and a decoder without a reader starts no goroutines.
	zstdDecoders struct {
		sync.Mutex
		m map[int]*zstd.Decoder
	}
)

// readBounded reads r to the end, failing with ErrDecompressLimit once more
// than max bytes come out.
func readBounded(r io.Reader, max, hint int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(min(hint, max))
	n, err := buf.ReadFrom(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(max) {
		return nil, ErrDecompressLimit
	}
	return buf.Bytes(), nil
}

func decodeGzip(src []byte, max int) ([]byte, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if zr != nil {
		defer gzipReaders.Put(zr)
	}
	if err != nil {
		return nil, err
	}
	return readBounded(zr, max, 4*len(src))
}

func decodeLZ4(src []byte, max int) ([]byte, error) {
	zr := lz4Readers.Get().(*lz4.Reader)
	zr.Reset(bytes.NewReader(src))
	defer func() {
		zr.Reset(nil)
		lz4Readers.Put(zr)
	}()
	return readBounded(zr, max, 4*len(src))
}

func decodeZstd(src []byte, max int) ([]byte, error) {
	d, err := zstdDecoder(max)
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(src, nil)
	if isZstdLimit(err) || len(out) > max {
		return nil, ErrDecompressLimit
	}
	return out, err
}

func isZstdLimit(err error) bool { return errors.Is(err, zstd.ErrDecoderSizeExceeded) }

func zstdDecoder(max int) (*zstd.Decoder, error) {
	zstdDecoders.Lock()
	defer zstdDecoders.Unlock()
	if d := zstdDecoders.m[max]; d != nil {
		return d, nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(max)),
	)
	if err != nil {
		return nil, err
	}
	if zstdDecoders.m == nil {
		zstdDecoders.m = make(map[int]*zstd.Decoder)
	}
	zstdDecoders.m[max] = d
	return d, nil
}

// decodeSnappy accepts xerial-framed input (recognised by its magic) and raw
// snappy blocks. Should input that starts with the xerial magic fail to
// parse as xerial, it is tried as a raw block before giving up. The output
// goes into dst's memory when it is large enough (dst may be nil).
func decodeSnappy(dst, src []byte, max int) ([]byte, error) {
	if len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic) {
		out, err := decodeXerial(dst, src[xerialHeaderLen:], max)
		if err == nil || errors.Is(err, ErrDecompressLimit) {
			return out, err
		}
		if raw, rawErr := decodeSnappyBlock(dst, src, max); rawErr == nil {
			return raw, nil
		}
		return nil, err
	}
	return decodeSnappyBlock(dst, src, max)
}

func decodeSnappyBlock(dst, src []byte, max int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, ErrDecompressLimit
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	return snappy.Decode(dst[:n], src)
}

var errXerial = errors.New("malformed xerial snappy framing")

// decodeXerial decodes the chunks that follow the 16-byte xerial header. It
// first walks the chunk lengths to bound the total output, then decodes.
func decodeXerial(dst, src []byte, max int) ([]byte, error) {
	total := 0
	for rest := src; len(rest) > 0; {
		chunk, next, err := xerialChunk(rest)
		if err != nil {
			return nil, err
		}
		n, err := snappy.DecodedLen(chunk)
		if err != nil {
			return nil, err
		}
		if n > max-total {
			return nil, ErrDecompressLimit
		}
		total += n
		rest = next
	}
	out := dst[:0]
	if cap(out) < total {
		out = make([]byte, 0, total)
	}
	for rest := src; len(rest) > 0; {
		chunk, next, _ := xerialChunk(rest)
		n, _ := snappy.DecodedLen(chunk)
		dec, err := snappy.Decode(out[len(out):len(out)+n], chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, dec...) // dec normally is that very space already
		rest = next
	}
	return out, nil
}

func xerialChunk(b []byte) (chunk, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errXerial
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errXerial
	}
	return b[4 : 4+n], b[4+n:], nil
}
