package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

func TestTopicAdmin(t *testing.T) {
	var dataDir string
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { dataDir = c.LogDirs }))
	addr := b.Addr()
	adm := newAdmin(t, addr)
	ctx := ctxT(t, 30*time.Second)

	ret := "3600000"
	createTopic(t, adm, "orders", 4, map[string]*string{"retention.ms": &ret, "cleanup.policy": kadm.StringPtr("delete")})

	// Errors carry the right codes.
	for _, tc := range []struct {
		name     string
		parts    int32
		rf       int16
		configs  map[string]*string
		wantCode *kerr.Error
	}{
		{"orders", 1, 1, nil, kerr.TopicAlreadyExists},
		{"bad/name", 1, 1, nil, kerr.InvalidTopicException},
		{"rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"zero", 0, 1, nil, kerr.InvalidPartitions},
		{"badcfg", 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
		{"unknowncfg", 1, 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
	} {
		resps, err := adm.CreateTopics(ctx, tc.parts, tc.rf, tc.configs, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		resp := resps[tc.name]
		if !errors.Is(resp.Err, tc.wantCode) {
			t.Errorf("create %s: err %v, want %v", tc.name, resp.Err, tc.wantCode)
		}
		if tc.wantCode == kerr.InvalidConfig && resp.ErrMessage == "" {
			t.Errorf("create %s: no error message naming the config", tc.name)
		}
	}

	// Describe configs: override is DYNAMIC_TOPIC_CONFIG, others default.
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("orders", nil)
	find := func(rc kadm.ResourceConfig, name string) kadm.Config {
		for _, c := range rc.Configs {
			if c.Key == name {
				return c
			}
		}
		t.Fatalf("config %s missing from describe", name)
		return kadm.Config{}
	}
	if c := find(rc, "retention.ms"); c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %q source %v", c.MaybeValue(), c.Source)
	}
	if c := find(rc, "segment.bytes"); c.MaybeValue() != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.bytes = %q source %v", c.MaybeValue(), c.Source)
	}

	// Incremental alter: set, delete; bad values refused.
	ars, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: kadm.StringPtr("1048576")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "orders")
	if err != nil || ars[0].Err != nil {
		t.Fatalf("alter: %v %v", err, ars)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "orders")
	rc, _ = rcs.On("orders", nil)
	if c := find(rc, "segment.bytes"); c.MaybeValue() != "1048576" {
		t.Fatalf("segment.bytes after alter = %q", c.MaybeValue())
	}
	if c := find(rc, "retention.ms"); c.Source == kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms still overridden after delete")
	}
	ars, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: kadm.StringPtr("3")}}, "orders")
	if !errors.Is(ars[0].Err, kerr.InvalidConfig) {
		t.Fatalf("segment.bytes=3 accepted: %v", ars[0].Err)
	}

	// Create partitions.
	cps, err := adm.CreatePartitions(ctx, 2, "orders")
	if err != nil || cps["orders"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, cps)
	}
	td, _ := adm.ListTopics(ctx, "orders")
	if n := len(td["orders"].Partitions); n != 6 {
		t.Fatalf("partitions after grow = %d, want 6", n)
	}
	cps, _ = adm.UpdatePartitions(ctx, 3, "orders")
	if !errors.Is(cps["orders"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrinking accepted: %v", cps["orders"].Err)
	}

	// Describe cluster and log dirs.
	bd, err := adm.ListBrokers(ctx)
	if err != nil || len(bd) != 1 {
		t.Fatalf("brokers: %v %v", bd, err)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Dir == dataDir {
			found = true
		}
	})
	if !found {
		t.Fatalf("log dir %s not described", dataDir)
	}

	// Delete removes data.
	if _, err := os.Stat(filepath.Join(dataDir, "orders-0")); err != nil {
		t.Fatalf("partition dir missing before delete: %v", err)
	}
	drs, err := adm.DeleteTopics(ctx, "orders")
	if err != nil || drs["orders"].Err != nil {
		t.Fatalf("delete: %v %v", err, drs)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "orders-0")); !os.IsNotExist(err) {
		t.Fatalf("partition dir still there after delete: %v", err)
	}
	ents, _ := os.ReadDir(dataDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "orders-") {
			t.Fatalf("%s left in the data dir after delete", e.Name())
		}
	}
	drs, _ = adm.DeleteTopics(ctx, "orders")
	if !errors.Is(drs["orders"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", drs["orders"].Err)
	}
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	ctx := ctxT(t, 30*time.Second)
	createTopic(t, adm, "ts", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("ts"), kgo.ProducerLinger(0))
	base := time.UnixMilli(1_700_000_000_000)
	// Ten records, one per produce call, timestamps 1 s apart; record 7 has the largest.
	for i := range 10 {
		ts := base.Add(time.Duration(i) * time.Second)
		if i == 7 {
			ts = base.Add(time.Hour)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}, Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start, _ := adm.ListStartOffsets(ctx, "ts")
	end, _ := adm.ListEndOffsets(ctx, "ts")
	if o, _ := start.Lookup("ts", 0); o.Offset != 0 {
		t.Fatalf("start offset %d", o.Offset)
	}
	if o, _ := end.Lookup("ts", 0); o.Offset != 10 {
		t.Fatalf("end offset %d", o.Offset)
	}
	byTS, err := adm.ListOffsetsAfterMilli(ctx, base.Add(2500*time.Millisecond).UnixMilli(), "ts")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := byTS.Lookup("ts", 0); o.Offset != 3 {
		t.Fatalf("offset for timestamp base+2.5s = %d, want 3", o.Offset)
	}
	byTS, _ = adm.ListOffsetsAfterMilli(ctx, base.Add(2*time.Hour).UnixMilli(), "ts")
	if o, _ := byTS.Lookup("ts", 0); o.Offset != 10 && o.Offset != -1 {
		t.Fatalf("offset for a future timestamp = %d, want end (10) or -1", o.Offset)
	}
	// Max timestamp (ListOffsets v7, timestamp -3).
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "ts"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 7 || p.Timestamp != base.Add(time.Hour).UnixMilli() {
		t.Fatalf("max timestamp: offset %d ts %d, want 7", p.Offset, p.Timestamp)
	}

	// DeleteRecords moves the log start; reading below it is OFFSET_OUT_OF_RANGE.
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{"ts": {0: {At: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dr.Lookup("ts", 0); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", r)
	}
	start, _ = adm.ListStartOffsets(ctx, "ts")
	if o, _ := start.Lookup("ts", 0); o.Offset != 4 {
		t.Fatalf("start offset after delete records = %d", o.Offset)
	}
	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 12 // by name
	fr.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "ts"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset = 1
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	fresp, err := fr.RequestWith(ctx, newClient(t, addr, kgo.MaxVersions(kversion.V3_0_0()))) // fetch by name
	if err != nil {
		t.Fatal(err)
	}
	if code := fresp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below log start: error %d, want OFFSET_OUT_OF_RANGE", code)
	}
	dr, _ = adm.DeleteRecords(ctx, kadm.Offsets{"ts": {0: {At: 99}}})
	if r, _ := dr.Lookup("ts", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete records beyond the end: %v", r.Err)
	}
}
