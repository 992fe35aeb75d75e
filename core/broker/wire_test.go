package broker_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/broker/brokertest"
)

// rawConn speaks the framing by hand, to send what no client would.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) send(req kmsg.Request, corr int32) {
	r.t.Helper()
	buf := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test")).AppendRequest(nil, req, corr)
	if _, err := r.nc.Write(buf); err != nil {
		r.t.Fatal(err)
	}
}

// recv reads one response frame and returns its correlation id and body (header tags
// skipped when flexible).
func (r *rawConn) recv(flexibleHeader bool) (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r.nc, size[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.nc, body); err != nil {
		return 0, nil, err
	}
	corr := int32(binary.BigEndian.Uint32(body))
	body = body[4:]
	if flexibleHeader {
		body = body[1:] // empty tag section
	}
	return corr, body, nil
}

// closedByBroker reports whether the broker closed the connection (EOF on read).
func (r *rawConn) closedByBroker() bool {
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := r.nc.Read(b[:])
	return err == io.EOF
}

// brokerServes checks that a fresh client still gets metadata.
func brokerServes(t *testing.T, addr string) {
	t.Helper()
	r := dialRaw(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	r.send(req, 7)
	corr, body, err := r.recv(false)
	if err != nil || corr != 7 {
		t.Fatalf("broker stopped serving: corr %d err %v", corr, err)
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 1
	if err := resp.ReadFrom(body); err != nil || len(resp.Brokers) != 1 {
		t.Fatalf("bad metadata after abuse: %v %+v", err, resp)
	}
}

func TestBadFramesCloseOnlyThatConnection(t *testing.T) {
	addr := brokertest.Start(t)
	bystander := dialRaw(t, addr)

	cases := map[string][]byte{
		"garbage":       []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"oversized":     binary.BigEndian.AppendUint32(nil, 200<<20),
		"negative size": binary.BigEndian.AppendUint32(nil, 0xffffffff),
		"unknown key":   append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff),
		"bad version":   append(binary.BigEndian.AppendUint32(nil, 10), 0, 3, 0x7f, 0, 0, 0, 0, 1, 0xff, 0xff),
		"truncated body": func() []byte {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 4
			req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("abc")}}
			full := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
			// Keep the frame length honest but cut the body short inside it.
			body := full[4 : len(full)-4]
			return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
		}(),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, addr)
			if _, err := r.nc.Write(payload); err != nil {
				t.Fatal(err)
			}
			if !r.closedByBroker() {
				t.Fatalf("broker did not close the connection after %s", name)
			}
			brokerServes(t, addr)
		})
	}
	// The connection opened before all that still works.
	req := kmsg.NewPtrApiVersionsRequest()
	bystander.send(req, 99)
	if corr, _, err := bystander.recv(false); err != nil || corr != 99 {
		t.Fatalf("bystander connection broken: %v", err)
	}
}

// TestApiVersionsFallback: KIP-511 — an ApiVersions version the broker does not know is
// answered with UNSUPPORTED_VERSION in a v0 body that lists the supported range.
func TestApiVersionsFallback(t *testing.T) {
	addr := brokertest.Start(t)
	r := dialRaw(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 5 // newer than served
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	r.send(req, 3)
	corr, body, err := r.recv(false)
	if err != nil || corr != 3 {
		t.Fatalf("corr %d err %v", corr, err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 35 {
		t.Fatalf("error code %d, want 35 UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 18 {
			if k.MaxVersion < 3 {
				t.Fatalf("ApiVersions max %d", k.MaxVersion)
			}
			return
		}
	}
	t.Fatal("fallback response does not list ApiVersions")
}

// TestPipelinedResponsesInOrder: many requests written back to back, including a long
// poll fetch that must wait, are answered in request order.
func TestPipelinedResponsesInOrder(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	createTopic(t, adm, "pipe", 1, nil)
	r := dialRaw(t, addr)
	var reqs []kmsg.Request
	for i := range 20 {
		if i == 5 {
			f := kmsg.NewPtrFetchRequest()
			f.Version = 11
			f.MaxWaitMillis = 300
			f.MinBytes = 1
			f.MaxBytes = 1 << 20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = "pipe"
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.PartitionMaxBytes = 1 << 20
			ft.Partitions = append(ft.Partitions, fp)
			f.Topics = append(f.Topics, ft)
			reqs = append(reqs, f)
			continue
		}
		m := kmsg.NewPtrMetadataRequest()
		m.Version = 9
		reqs = append(reqs, m)
	}
	for i, req := range reqs {
		r.send(req, int32(100+i))
	}
	for i, req := range reqs {
		corr, _, err := r.recv(req.IsFlexible())
		if err != nil {
			t.Fatal(err)
		}
		if corr != int32(100+i) {
			t.Fatalf("response %d has correlation id %d, want %d", i, corr, 100+i)
		}
	}
}
