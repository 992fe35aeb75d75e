package group

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// replayConsumer loads records (in log order) into a fresh coordinator, as the broker does at
// start.
func replayConsumer(t *testing.T, ts *topicSet, log []MetadataRecord) *Coordinator {
	t.Helper()
	c := New(ts.config(Config{MinSessionTimeout: time.Millisecond, MaxSessionTimeout: time.Hour, Tick: time.Hour,
		ConsumerSessionTimeout: 10 * time.Second, ConsumerHeartbeatInterval: time.Second}))
	t.Cleanup(c.Close)
	for _, r := range log {
		if err := c.Load(r.Key, r.Value); err != nil {
			t.Fatalf("load %x: %v", r.Key, err)
		}
	}
	c.LoadDone()
	return c
}

// comparable strips what is not persisted from a description.
func persisted(d ConsumerDescription) ConsumerDescription {
	for i := range d.Members {
		d.Members[i].ClientID, d.Members[i].ClientHost = "", ""
	}
	return d
}

func TestConsumerRecordsRoundTrip(t *testing.T) {
	c, _, ts := consumerCoordinator(t, map[string]int32{"t": 4, "u": 2})
	inst, rack := "A", "rack-1"
	ra := joinHB("a", "t", "u")
	ra.InstanceID, ra.RackID = &inst, &rack
	a := mustBeat(t, c, ra)
	b := mustBeat(t, c, joinHB("b", "t"))
	a = mustBeat(t, c, beatHB("a", a.MemberEpoch, nil)) // a revoking: UNREVOKED_PARTITIONS
	var log []MetadataRecord
	log = append(log, c.TakeMetadata()...)

	c2 := replayConsumer(t, ts, log)
	if want, got := persisted(c.ConsumerDescribe("g")), persisted(c2.ConsumerDescribe("g")); !reflect.DeepEqual(want, got) {
		t.Fatalf("reloaded group:\n got %+v\nwant %+v", got, want)
	}
	checkOwners(t, c2, "g")
	// The members carry on against the reloaded state with their epochs.
	a2 := mustBeat(t, c2, beatHB("a", a.MemberEpoch, a.Assignment))
	b2 := mustBeat(t, c2, beatHB("b", b.MemberEpoch, nil))
	if a2.MemberEpoch != 2 || b2.Assignment.count() != 3 {
		t.Fatalf("after reload: a %+v, b %+v", a2, b2)
	}
	// Commits at the previous epoch are still judged by partition (assignment epochs).
	held := TopicPartition{"u", 0}
	if stale, err := c2.ValidateCommit("g", 9, 1, "a", "", []TopicPartition{held}); err != nil || stale != nil {
		t.Fatalf("commit of a partition held since epoch 1 after reload: %v %v", stale, err)
	}

	// Leaving writes tombstones: the member is gone after a reload.
	mustBeat(t, c2, beatHB("b", LeaveEpoch, nil))
	log = append(log, c2.TakeMetadata()...)
	c3 := replayConsumer(t, ts, log)
	if d := c3.ConsumerDescribe("g"); len(d.Members) != 1 || d.Members[0].MemberID != "a" || d.Epoch != 3 || d.Members[0].InstanceID != "A" || d.Members[0].RackID != "rack-1" {
		t.Fatalf("after b left and a reload: %+v", d)
	}
	// Deleting the empty group deletes every record of it.
	mustBeat(t, c3, beatHB("a", LeaveEpoch, nil))
	if _, err := c3.Delete("g"); err != nil {
		t.Fatal(err)
	}
	log = append(log, c3.TakeMetadata()...)
	c4 := replayConsumer(t, ts, log)
	if l := c4.List(); len(l) != 0 {
		t.Fatalf("groups after delete and reload: %+v", l)
	}
}

func TestConsumerRecordsDeletedTopic(t *testing.T) {
	c, _, ts := consumerCoordinator(t, map[string]int32{"t": 2, "u": 2})
	mustBeat(t, c, joinHB("a", "t", "u"))
	log := c.TakeMetadata()
	ts.mu.Lock()
	delete(ts.parts, "u")
	ts.mu.Unlock()
	d := replayConsumer(t, ts, log).ConsumerDescribe("g")
	if len(d.Members) != 1 || !equalPartitions(d.Members[0].Assigned, ps("t", 0, 1)) || !equalPartitions(d.Members[0].Target, ps("t", 0, 1)) {
		t.Fatalf("reloaded without topic u: %+v", d)
	}
}

func TestConsumerRecordFormat(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 1})
	mustBeat(t, c, joinHB("m", "t"))
	recs := c.TakeMetadata()
	byKey := map[string][]byte{}
	for _, r := range recs {
		byKey[hex.EncodeToString(r.Key)] = r.Value
	}
	// Keys: int16 type, then strings with int16 lengths (Kafka's non-flexible keys).
	groupKey := "0003" + "0001" + hex.EncodeToString([]byte("g"))
	memberKey := func(typ string) string {
		return typ + "0001" + hex.EncodeToString([]byte("g")) + "0001" + hex.EncodeToString([]byte("m"))
	}
	for _, k := range []string{groupKey, memberKey("0005"), "0006" + "0001" + hex.EncodeToString([]byte("g")), memberKey("0007"), memberKey("0008")} {
		if _, ok := byKey[k]; !ok {
			t.Fatalf("no record with key %s among %d records", k, len(recs))
		}
	}
	// ConsumerGroupMetadataValue v0: epoch 1, no tagged fields.
	if v := byKey[groupKey]; !bytes.Equal(v, []byte{0, 0, 0, 0, 0, 1, 0}) {
		t.Fatalf("group metadata value %x", v)
	}
	// ConsumerGroupMemberMetadataValue v0: null instance and rack, compact client id and
	// host, one subscribed topic, null regex, rebalance timeout 5000, null assignor.
	want := []byte{0, 0, 0, 0, 9}
	want = append(want, "client-m"...)
	want = append(want, 11)
	want = append(want, "/127.0.0.1"...)
	want = append(want, 2, 2, 't', 0, 0, 0, 0x13, 0x88, 0, 0)
	if v := byKey[memberKey("0005")]; !bytes.Equal(v, want) {
		t.Fatalf("member metadata value\n got %x\nwant %x", v, want)
	}
}

// TestConsumerRecordsTopicsChangedWhileDown: partitions added after the last target
// assignment (and before a heartbeat saw them) are assigned after a reload.
func TestConsumerRecordsTopicsChangedWhileDown(t *testing.T) {
	c, _, ts := consumerCoordinator(t, map[string]int32{"t": 2})
	a := mustBeat(t, c, joinHB("a", "t"))
	log := c.TakeMetadata()
	ts.set("t", 3)
	c2 := replayConsumer(t, ts, log)
	r := mustBeat(t, c2, beatHB("a", a.MemberEpoch, nil))
	if r.MemberEpoch != a.MemberEpoch+1 || !equalPartitions(r.Assignment, ps("t", 0, 1, 2)) {
		t.Fatalf("after a reload with a new partition: %+v", r)
	}
	// Unchanged topics: a reload does not bump the epoch.
	c3 := replayConsumer(t, ts, append(log, c2.TakeMetadata()...))
	if r := mustBeat(t, c3, beatHB("a", a.MemberEpoch+1, nil)); r.MemberEpoch != a.MemberEpoch+1 {
		t.Fatalf("reload bumped the epoch: %+v", r)
	}
}
