package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A response with record batches held in memory (several pieces) and one
// sent from a file reaches the client byte for byte, after the earlier
// responses buffered with it, in both the classic and the flexible encoding.
func TestWriteWithFiles(t *testing.T) {
	for _, version := range []int16{11, 13} {
		t.Run(fmt.Sprintf("FetchV%d", version), func(t *testing.T) {
			testWriteWithFiles(t, version)
		})
	}
}

func testWriteWithFiles(t *testing.T, version int16) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	fileData := bytes.Repeat([]byte("file-bytes."), 30000) // sent with sendfile
	path := filepath.Join(t.TempDir(), "seg")
	if err := os.WriteFile(path, append([]byte("skip"), fileData...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem1 := [][]byte{bytes.Repeat([]byte{1}, 700000), bytes.Repeat([]byte{2}, 300000)}
	mem2 := [][]byte{[]byte("small")}
	released := 0
	files := []FileRange{
		{Marker: NewMarker(), Mem: mem1, Len: 1000000, Release: func() { released++ }},
		{Marker: NewMarker(), File: f, Off: 4, Len: int64(len(fileData)), Release: func() { released++ }},
		{Marker: NewMarker(), Mem: mem2, Len: 5, Release: func() { released++ }},
	}
	want := [][]byte{bytes.Join(mem1, nil), fileData, mem2[0]}

	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(version)
	topic := kmsg.NewFetchResponseTopic()
	topic.Topic = "t"
	for i := range files {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = int32(i)
		p.HighWatermark = 100
		p.RecordBatches = files[i].Marker[:]
		topic.Partitions = append(topic.Partitions, p)
	}
	resp.Topics = append(resp.Topics, topic)

	earlier := []byte("earlier responses")
	buf := append([]byte(nil), earlier...)
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, 42) // correlation id
	if resp.IsFlexible() {
		buf = append(buf, 0) // response header tags
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))

	c := &Conn{nc: server}
	errc := make(chan error, 1)
	go func() {
		_, err := c.writeWithFiles(buf, start, resp.IsFlexible(), files)
		errc <- err
	}()

	got := make([]byte, len(earlier)+4)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(earlier)], earlier) {
		t.Fatalf("earlier responses: got %q", got[:len(earlier)])
	}
	body := make([]byte, binary.BigEndian.Uint32(got[len(earlier):]))
	if _, err := io.ReadFull(client, body); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if released != len(files) {
		t.Fatalf("released %d of %d ranges", released, len(files))
	}
	if corr := binary.BigEndian.Uint32(body); corr != 42 {
		t.Fatalf("correlation id %d", corr)
	}
	body = body[4:]
	if resp.IsFlexible() {
		body = body[1:]
	}
	dec := kmsg.NewPtrFetchResponse()
	dec.SetVersion(version)
	if err := dec.ReadFrom(body); err != nil {
		t.Fatalf("client cannot decode the response: %v", err)
	}
	if len(dec.Topics) != 1 || len(dec.Topics[0].Partitions) != len(files) {
		t.Fatalf("decoded %d topics", len(dec.Topics))
	}
	for i, p := range dec.Topics[0].Partitions {
		if p.Partition != int32(i) || p.HighWatermark != 100 || !bytes.Equal(p.RecordBatches, want[i]) {
			t.Fatalf("partition %d: got partition %d, hwm %d, %d bytes of record batches, want %d bytes", i, p.Partition, p.HighWatermark, len(p.RecordBatches), len(want[i]))
		}
	}
	for _, b := range c.iov[:cap(c.iov)] {
		if b != nil {
			t.Fatal("the write loop's scratch still refers to memory it sent")
		}
	}
}
