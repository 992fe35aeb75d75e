package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("wire: server closed")

// Reply is what a Handler returns for one request.
//
// Exactly one of Resp and Later is normally set. Later runs on the connection's writer
// goroutine, in request order, and returns the reply then (its own Later is ignored). A
// Reply with neither set sends nothing (Kafka's acks=0 produce).
//
// Files lists byte fields of Resp that are sent straight from files (sendfile) rather
// than from memory: see FileRange.
type Reply struct {
	Resp  kmsg.Response
	Later func() Reply
	Files []FileRange
	// CloseAfter closes the connection once the replies before this one are written
	// (Kafka does this when an acks=0 produce fails, so the client notices).
	CloseAfter string // the reason, logged; "" keeps the connection
}

// Handler serves decoded requests. Handle is called on the connection's reader goroutine
// in request order; it must not block for long (defer waits into Reply.Later).
type Handler interface {
	// Versions reports the supported version range of an API key; ok is false if the key
	// is not served at all.
	Versions(key int16) (min, max int16, ok bool)
	// APIKeys lists every served key with its range (for the KIP-511 fallback).
	APIKeys() []kmsg.ApiVersionsResponseApiKey
	Handle(c *Conn, req kmsg.Request) Reply
}

// Observer is notified when a response has been written (for metrics). Optional.
type Observer interface {
	Observe(key int16, latency time.Duration, requestBytes, responseBytes int)
}

// Server accepts Kafka connections. The zero value is not usable: set Handler.
type Server struct {
	Handler Handler
	// MaxRequestBytes is socket.request.max.bytes: a bigger frame closes the connection.
	// Zero means 100 MiB.
	MaxRequestBytes int32
	// IdleTimeout closes connections without a request for this long (connections.max.idle.ms). Zero: never.
	IdleTimeout time.Duration
	Logger      *slog.Logger
	Observer    Observer
	// RecycleKeys lists API keys whose request buffers are reused once Handle returns.
	// A handler for such a key must not keep any []byte (or unsafe string) of its
	// request past Handle, including in its Reply.Later.
	RecycleKeys map[int16]bool

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	shutdown chan struct{}
}

// Conn is one client connection.
type Conn struct {
	srv *Server
	nc  net.Conn
	// Scratch of writeWithFiles (the write loop's only).
	iov      net.Buffers
	prefixes []byte
	ctx      context.Context
	cancel   context.CancelFunc
	pending  chan pending
	clientID string
	remote   string
	stopRead chan struct{}
}

// Context is cancelled when the connection closes or the server shuts down hard.
func (c *Conn) Context() context.Context { return c.ctx }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() string { return c.remote }

// ClientID is the client id of the request being handled.
func (c *Conn) ClientID() string { return c.clientID }

type pending struct {
	corr     int32
	key      int16
	version  int16
	flexible bool
	reply    Reply
	start    time.Time
	reqBytes int
}

// Serve accepts connections on ln until Shutdown. It always returns a non-nil error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.ln = ln
	if s.conns == nil {
		s.conns = make(map[*Conn]struct{})
	}
	if s.shutdown == nil {
		s.shutdown = make(chan struct{})
	}
	s.mu.Unlock()
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(tempDelay*2, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			return fmt.Errorf("wire: accept: %w", err)
		}
		tempDelay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := s.newConn(nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(2)
		s.mu.Unlock()
		go c.readLoop()
	}
}

func (s *Server) newConn(nc net.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{
		srv:      s,
		nc:       nc,
		ctx:      ctx,
		cancel:   cancel,
		pending:  make(chan pending, 64),
		remote:   nc.RemoteAddr().String(),
		stopRead: make(chan struct{}),
	}
}

// Shutdown stops accepting, stops reading new requests, lets every request already read
// be answered, then closes the connections. If ctx ends first, connections are closed
// at once and in-flight waits are cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		close(c.stopRead)
		// Wake the reader out of a blocking read; requests already read are still answered.
		_ = c.nc.SetReadDeadline(time.Now())
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.cancel()
			c.nc.Close()
		}
		<-done
		return ctx.Err()
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxRequest() int32 {
	if s.MaxRequestBytes > 0 {
		return s.MaxRequestBytes
	}
	return 100 << 20
}

func (c *Conn) stopping() bool {
	select {
	case <-c.stopRead:
		return true
	default:
		return false
	}
}

// readLoop reads and dispatches requests until the connection ends.
func (c *Conn) readLoop() {
	defer c.srv.wg.Done()
	go c.writeLoop()
	defer close(c.pending)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if c.stopping() {
			return
		}
		if c.srv.IdleTimeout > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.IdleTimeout))
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			if !errors.Is(err, io.EOF) && !c.stopping() && !errors.Is(err, net.ErrClosed) {
				c.srv.logger().Debug("connection closed", "client", c.remote, "err", err)
			}
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.srv.maxRequest() {
			c.srv.logger().Warn("closing connection: bad request size",
				"client", c.remote, "client_id", c.clientID, "size", size,
				"socket.request.max.bytes", c.srv.maxRequest())
			return
		}
		body := getBuf(int(size))
		if _, err := io.ReadFull(br, body); err != nil {
			c.srv.logger().Warn("closing connection: truncated request",
				"client", c.remote, "client_id", c.clientID, "want_bytes", size, "err", err)
			return
		}
		start := time.Now()
		p, err := c.decodeAndHandle(body)
		if err != nil {
			c.srv.logger().Warn("closing connection: bad request",
				"client", c.remote, "client_id", c.clientID, "err", err)
			return
		}
		if c.srv.RecycleKeys[p.key] {
			putBuf(body)
		}
		p.start = start
		p.reqBytes = int(size) + 4
		if p.reply.Resp == nil && p.reply.Later == nil {
			if c.srv.Observer != nil {
				c.srv.Observer.Observe(p.key, time.Since(start), p.reqBytes, 0)
			}
			if p.reply.CloseAfter != "" {
				c.srv.logger().Info("closing connection", "client", c.remote, "client_id", c.clientID, "reason", p.reply.CloseAfter)
				return // the writer drains what is pending, then closes
			}
			continue
		}
		select {
		case c.pending <- p:
		case <-c.ctx.Done():
			return
		}
	}
}

// decodeAndHandle parses the request header and body and calls the handler.
func (c *Conn) decodeAndHandle(body []byte) (pending, error) {
	key := int16(binary.BigEndian.Uint16(body[0:]))
	version := int16(binary.BigEndian.Uint16(body[2:]))
	corr := int32(binary.BigEndian.Uint32(body[4:]))
	rest := body[8:]
	// client_id: nullable string (int16 length), never compact.
	if len(rest) < 2 {
		return pending{}, fmt.Errorf("request header truncated (api key %d)", key)
	}
	idLen := int(int16(binary.BigEndian.Uint16(rest)))
	rest = rest[2:]
	if idLen > 0 {
		if len(rest) < idLen {
			return pending{}, fmt.Errorf("client id truncated (api key %d)", key)
		}
		if string(rest[:idLen]) != c.clientID {
			c.clientID = string(rest[:idLen])
		}
		rest = rest[idLen:]
	}
	p := pending{corr: corr, key: key, version: version}
	min, max, ok := c.srv.Handler.Versions(key)
	if !ok {
		return p, fmt.Errorf("unsupported api key %d (%s) version %d", key, kmsg.NameForKey(key), version)
	}
	if version < min || version > max {
		if key == 18 {
			// KIP-511: answer with a v0 body listing what we support.
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 0
			resp.ErrorCode = 35 // UNSUPPORTED_VERSION
			resp.ApiKeys = c.srv.Handler.APIKeys()
			p.version = 0
			p.reply = Reply{Resp: resp}
			return p, nil
		}
		return p, fmt.Errorf("unsupported version %d of api key %d (%s), supported %d-%d",
			version, key, kmsg.NameForKey(key), min, max)
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return p, fmt.Errorf("unknown api key %d", key)
	}
	req.SetVersion(version)
	p.flexible = req.IsFlexible()
	if p.flexible {
		n, err := skipTags(rest)
		if err != nil {
			return p, fmt.Errorf("request header tags of api key %d: %w", key, err)
		}
		rest = rest[n:]
	}
	if err := req.ReadFrom(rest); err != nil {
		return p, fmt.Errorf("decoding %s v%d: %w", kmsg.NameForKey(key), version, err)
	}
	reply, err := c.safeHandle(req)
	p.reply = reply
	return p, err
}

// safeHandle turns a handler panic into an error that closes only this connection.
func (c *Conn) safeHandle(req kmsg.Request) (r Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.logger().Error("handler panic", "api", kmsg.NameForKey(req.Key()),
				"client", c.remote, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error handling %s", kmsg.NameForKey(req.Key()))
		}
	}()
	return c.srv.Handler.Handle(c, req), nil
}

// safeLater runs a deferred reply; a panic closes only this connection.
func (c *Conn) safeLater(p pending) (reply Reply, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.logger().Error("handler panic", "api", kmsg.NameForKey(p.key),
				"client", c.remote, "panic", r, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return p.reply.Later(), true
}

// Request buffers of RecycleKeys (produce requests) are recycled through
// pools by power-of-two size class, so a request never gets a buffer too small
// for it (which a single pool handed out and then dropped) and large requests
// reuse memory that is already faulted in instead of zeroing and faulting in
// megabytes per request.
const (
	minBufShift = 12 // 4 KiB
	maxBufShift = 24 // 16 MiB: larger requests are not recycled
)

var bufPools [maxBufShift - minBufShift + 1]sync.Pool

// bufClass is the index of the smallest class holding n bytes, or -1.
func bufClass(n int) int {
	c := max(bits.Len(uint(max(n, 1)-1)), minBufShift) - minBufShift
	if c >= len(bufPools) {
		return -1
	}
	return c
}

func getBuf(n int) []byte {
	c := bufClass(n)
	if c < 0 {
		return make([]byte, n)
	}
	if v, ok := bufPools[c].Get().(*[]byte); ok {
		return (*v)[:n]
	}
	return make([]byte, n, 1<<(c+minBufShift))
}

func putBuf(b []byte) {
	if c := bufClass(cap(b)); c >= 0 && cap(b) == 1<<(c+minBufShift) {
		bufPools[c].Put(&b)
	}
}

// skipTags returns the length of a tagged-field section at the start of b.
func skipTags(b []byte) (int, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return 0, errors.New("bad tag count")
	}
	off := used
	for range n {
		_, u1 := binary.Uvarint(b[off:])
		if u1 <= 0 {
			return 0, errors.New("bad tag key")
		}
		off += u1
		l, u2 := binary.Uvarint(b[off:])
		if u2 <= 0 || uint64(len(b)-off-u2) < l {
			return 0, errors.New("bad tag length")
		}
		off += u2 + int(l)
	}
	return off, nil
}

// writeLoop finishes and writes responses in request order.
func (c *Conn) writeLoop() {
	defer c.srv.wg.Done()
	defer func() {
		c.cancel()
		c.nc.Close()
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
	}()
	buf := make([]byte, 0, 64<<10)
	broken := false
	for p := range c.pending {
		if broken {
			ReleaseFiles(p.reply.Files)
			continue // drain so the reader never blocks
		}
		reply := p.reply
		if reply.Later != nil {
			// Later may wait (fsync, long poll): send what is ready first.
			if len(buf) > 0 {
				if _, err := c.nc.Write(buf); err != nil {
					broken = true
					c.cancel()
					continue
				}
				buf = buf[:0]
			}
			var ok bool
			if reply, ok = c.safeLater(p); !ok {
				broken = true
				c.cancel()
				continue
			}
		}
		resp := reply.Resp
		if resp == nil {
			ReleaseFiles(reply.Files)
			continue
		}
		resp.SetVersion(p.version)
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.corr))
		if p.flexible && p.key != 18 {
			buf = append(buf, 0)
		}
		buf = resp.AppendTo(buf)
		binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
		if len(reply.Files) > 0 {
			// Send what is buffered, then this response in pieces around its files.
			n, err := c.writeWithFiles(buf, start, resp.IsFlexible(), reply.Files)
			if err != nil {
				c.srv.logger().Debug("write failed", "client", c.remote, "err", err)
				broken = true
				c.cancel()
			}
			if c.srv.Observer != nil {
				c.srv.Observer.Observe(p.key, time.Since(p.start), p.reqBytes, n)
			}
			buf = buf[:0]
			continue
		}
		if c.srv.Observer != nil {
			c.srv.Observer.Observe(p.key, time.Since(p.start), p.reqBytes, len(buf)-start)
		}
		// Coalesce writes while more responses are immediately ready.
		if len(c.pending) > 0 && len(buf) < 1<<20 {
			continue
		}
		if _, err := c.nc.Write(buf); err != nil {
			c.srv.logger().Debug("write failed", "client", c.remote, "err", err)
			broken = true
			c.cancel()
		}
		if cap(buf) > 8<<20 {
			buf = make([]byte, 0, 64<<10)
		} else {
			buf = buf[:0]
		}
	}
	if !broken && len(buf) > 0 {
		_, _ = c.nc.Write(buf)
	}
}
