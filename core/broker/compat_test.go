package broker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/streamd/streamd/core/broker/brokertest"
)

func needKcat(t *testing.T) string {
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed (.ci/run installs it)")
		}
		t.Skip("kcat not installed")
	}
	return p
}

// TestKcat produces with librdkafka (every codec) and consumes back.
func TestKcat(t *testing.T) {
	kcat := needKcat(t)
	addr := brokertest.Start(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopic(t, newAdmin(t, addr), topic, 2, nil)
			var in strings.Builder
			for i := range 200 {
				fmt.Fprintf(&in, "key%d:value-%d\n", i%7, i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			prod := exec.CommandContext(ctx, kcat, "-b", addr, "-t", topic, "-P", "-K:", "-z", codec, "-X", "acks=all", "-X", "linger.ms=5")
			prod.Stdin = strings.NewReader(in.String())
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("kcat produce: %v\n%s", err, out)
			}
			cons := exec.CommandContext(ctx, kcat, "-b", addr, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%k:%s\n")
			var errb strings.Builder
			cons.Stderr = &errb
			defer func() {
				if t.Failed() {
					t.Log(errb.String()[max(0, errb.Len()-3000):])
				}
			}()
			out, err := cons.Output()
			if err != nil {
				t.Fatalf("kcat consume: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			want := strings.Split(strings.TrimSpace(in.String()), "\n")
			sort.Strings(lines)
			sort.Strings(want)
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("kcat read %d lines, wrote %d; first read %q", len(lines), len(want), lines[0])
			}
		})
	}
	// Metadata listing works too (kcat -L).
	out, err := exec.Command(kcat, "-b", addr, "-L").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kcat-zstd") {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
}

func TestSarama(t *testing.T) {
	addr := brokertest.Start(t)
	createTopic(t, newAdmin(t, addr), "sarama", 1, nil)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = sarama.CompressionSnappy
	prod, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range 50 {
		_, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama", Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder(fmt.Sprintf("m%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(i) {
			t.Fatalf("sarama offset %d, want %d", off, i)
		}
	}
	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition("sarama", 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for i := range 50 {
		select {
		case m := <-pc.Messages():
			if string(m.Value) != fmt.Sprintf("m%d", i) || m.Offset != int64(i) {
				t.Fatalf("sarama read %q at %d, want m%d", m.Value, m.Offset, i)
			}
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("sarama consumer stalled after %d messages", i)
		}
	}
}

func TestKafkaGo(t *testing.T) {
	addr := brokertest.Start(t)
	createTopic(t, newAdmin(t, addr), "kafkago", 1, nil)
	w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: "kafkago", RequiredAcks: kafkago.RequireAll, BatchTimeout: 5 * time.Millisecond, Compression: kafkago.Lz4}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var msgs []kafkago.Message
	for i := range 50 {
		msgs = append(msgs, kafkago.Message{Key: []byte("k"), Value: []byte(fmt.Sprintf("m%d", i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: "kafkago", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := range 50 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read %d: %v", i, err)
		}
		if string(m.Value) != fmt.Sprintf("m%d", i) || m.Offset != int64(i) {
			t.Fatalf("kafka-go read %q at %d, want m%d", m.Value, m.Offset, i)
		}
	}
}
