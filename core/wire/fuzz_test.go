package wire

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// echoHandler serves ApiVersions and Metadata so fuzzed frames reach real decoding.
type echoHandler struct{}

func (echoHandler) Versions(key int16) (int16, int16, bool) {
	switch key {
	case 18:
		return 0, 4, true
	case 3:
		return 0, 12, true
	case 0:
		return 3, 13, true
	}
	return 0, 0, false
}

func (echoHandler) APIKeys() []kmsg.ApiVersionsResponseApiKey {
	return []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 4}}
}

func (echoHandler) Handle(_ *Conn, req kmsg.Request) Reply {
	resp := req.ResponseKind()
	return Reply{Resp: resp}
}

// FuzzFrame feeds arbitrary bytes (after a valid size prefix or not) to a connection's
// request decoding: the server must never panic, and must either answer or close.
func FuzzFrame(f *testing.F) {
	for _, seed := range frameSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := &Server{Handler: echoHandler{}, MaxRequestBytes: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		c := srv.newConn(nopConn{})
		if len(data) < 8 {
			return
		}
		// decodeAndHandle is what the reader runs on every frame body.
		_, _ = c.decodeAndHandle(data)
	})
}

func frameSeeds() [][]byte {
	var seeds [][]byte
	add := func(req kmsg.Request) {
		full := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed")).AppendRequest(nil, req, 1)
		seeds = append(seeds, full[4:])
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	add(av)
	av5 := kmsg.NewPtrApiVersionsRequest()
	av5.Version = 5
	add(av5)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	add(md)
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 9
	pr.Acks = -1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: []byte{1, 2, 3}}}}}
	add(pr)
	seeds = append(seeds, []byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0x05, 0xff}, []byte("GET / HTTP/1.1\r\n\r\n"))
	return seeds
}

type nopConn struct{ net.Conn }

func (nopConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestServeGarbageThenValid runs a real listener: a connection sending garbage is
// closed, and another connection is still served.
func TestServeGarbageThenValid(t *testing.T) {
	srv := &Server{Handler: echoHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-done
	}()
	for _, seed := range frameSeeds() {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(seed))), seed...)
		nc.Write(frame)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var size [4]byte
		_, err = io.ReadFull(nc, size[:])
		nc.Close()
		if err != nil && err != io.EOF {
			t.Fatalf("seed %x: neither answered nor closed: %v", seed[:min(8, len(seed))], err)
		}
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzFrame from frameSeeds")

// TestSeedCorpus keeps the committed seed corpus (testdata/fuzz/FuzzFrame) in step with
// frameSeeds; `go test -run TestSeedCorpus -update-corpus` rewrites it.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzFrame")
	for i, seed := range frameSeeds() {
		path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if *updateCorpus {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("%s is missing or stale (run with -update-corpus): %v", path, err)
		}
	}
}
