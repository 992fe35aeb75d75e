package group

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// formGroup makes group g Stable with a dynamic leader and a static member "inst";
// assignments are "A" and "B". It returns both join answers.
func formGroup(t *testing.T, c *Coordinator) (a, b JoinResult) {
	t.Helper()
	ch1 := join(t, c, joinReq("g", "", "", "range"))
	ch2 := join(t, c, joinReq("g", "", "inst", "range"))
	a, b = wait(t, ch1), wait(t, ch2)
	if a.Err != nil || b.Err != nil {
		t.Fatalf("join: %v %v", a.Err, b.Err)
	}
	if a.LeaderID != a.MemberID {
		a, b = b, a
	}
	_, fch := c.Sync("g", b.Generation, b.MemberID, "inst", "", "", nil)
	_, lch := c.Sync("g", a.Generation, a.MemberID, "", "", "", map[string][]byte{a.MemberID: []byte("A"), b.MemberID: []byte("B")})
	if r := wait(t, lch); r.Err != nil || string(r.Assignment) != "A" {
		t.Fatalf("leader sync %+v", r)
	}
	if r := wait(t, fch); r.Err != nil || string(r.Assignment) != "B" {
		t.Fatalf("follower sync %+v", r)
	}
	return a, b
}

// replay loads records into a fresh coordinator, as the broker does at start.
func replay(t *testing.T, recs ...MetadataRecord) *Coordinator {
	t.Helper()
	c := testCoordinator(t)
	for _, r := range recs {
		if err := c.Load(r.Key, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestMetadataRecordsRestoreStableGroup(t *testing.T) {
	c := testCoordinator(t)
	if recs := c.TakeMetadata(); recs != nil {
		t.Fatalf("records before any group: %v", recs)
	}
	a, b := formGroup(t, c)
	select {
	case <-c.MetadataReady():
	default:
		t.Fatal("MetadataReady not signalled after the rebalance")
	}
	recs := c.TakeMetadata()
	if len(recs) != 1 || recs[0].Group != "g" || recs[0].Value == nil {
		t.Fatalf("records after a rebalance: %+v", recs)
	}
	if c.TakeMetadata() != nil {
		t.Fatal("TakeMetadata returned the records twice")
	}
	// Kafka's schema versions: key 2, value 3.
	if kv := binary.BigEndian.Uint16(recs[0].Key); kv != 2 {
		t.Errorf("key version %d", kv)
	}
	v := kmsg.NewGroupMetadataValue()
	if err := v.ReadFrom(recs[0].Value); err != nil || v.Version != 3 || v.Generation != a.Generation ||
		v.ProtocolType != "consumer" || derefStr(v.Protocol) != "range" || derefStr(v.Leader) != a.MemberID || len(v.Members) != 2 {
		t.Fatalf("value %+v (%v)", v, err)
	}
	if m := v.Members[1]; m.MemberID != b.MemberID || derefStr(m.InstanceID) != "inst" || string(m.Assignment) != "B" ||
		string(m.Subscription) != "range" || m.SessionTimeoutMillis != 1000 || m.RebalanceTimeoutMillis != 300 || m.ClientID != "c" {
		t.Fatalf("static member %+v", m)
	}

	c2 := replay(t, recs...)
	d := c2.Describe("g")
	if d.State != Stable || d.Protocol != "range" || len(d.Members) != 2 || d.Members[0].MemberID != a.MemberID ||
		string(d.Members[0].Assignment) != "A" || string(d.Members[1].Assignment) != "B" || d.Members[1].InstanceID != "inst" {
		t.Fatalf("restored %+v", d)
	}
	if err := c2.Heartbeat("g", a.Generation, a.MemberID, ""); err != nil {
		t.Fatalf("heartbeat of a restored member: %v", err)
	}
	if _, err := c2.ValidateCommit("g", 9, a.Generation, a.MemberID, "", nil); err != nil {
		t.Fatalf("commit of a restored member: %v", err)
	}
	// A follower rejoining with unchanged metadata keeps the generation.
	if res, ch := c2.Join(joinReq("g", b.MemberID, "inst", "range")); ch != nil || res.Err != nil || res.Generation != a.Generation {
		t.Fatalf("follower rejoin after restore: %+v (waiting %v)", res, ch != nil)
	}
	c3 := replay(t, recs...)
	// The static member restarts (no member id): same generation and assignment, no rebalance.
	res, ch := c3.Join(joinReq("g", "", "inst", "range"))
	if ch != nil || res.Err != nil || res.Generation != a.Generation {
		t.Fatalf("static rejoin after restore: %+v (waiting %v)", res, ch != nil)
	}
	if s, _ := c3.Sync("g", res.Generation, res.MemberID, "inst", "", "", nil); s.Err != nil || string(s.Assignment) != "B" {
		t.Fatalf("static member's assignment after restore: %+v", s)
	}
	if state(c3, "g") != Stable {
		t.Fatalf("state %v after the static rejoin", state(c3, "g"))
	}
	// The replacement was persisted: a second restart knows the new member id.
	recs3 := c3.TakeMetadata()
	c4 := replay(t, append(recs, recs3...)...)
	if err := c4.Heartbeat("g", res.Generation, res.MemberID, "inst"); err != nil {
		t.Fatalf("heartbeat of the replaced static member after a second restore: %v", err)
	}
	if err := c4.Heartbeat("g", res.Generation, b.MemberID, "inst"); !errors.Is(err, kerr.FencedInstanceID) {
		t.Fatalf("old static member id after restore: %v, want FENCED_INSTANCE_ID", err)
	}
}

func TestMetadataRecordsEmptyAndDeleted(t *testing.T) {
	c := testCoordinator(t)
	a, _ := formGroup(t, c)
	c.TakeMetadata()
	c.Leave("g", []Leaver{{MemberID: a.MemberID}, {InstanceID: "inst"}})
	recs := c.TakeMetadata()
	if len(recs) != 1 || recs[0].Value == nil {
		t.Fatalf("records after the group emptied: %+v", recs)
	}
	c.Commit("g", map[TopicPartition]Offset{{"t", 0}: {Offset: 5}})
	c2 := replay(t, recs...)
	if d := c2.Describe("g"); d.State != Empty || len(d.Members) != 0 || d.ProtocolType != "consumer" {
		t.Fatalf("restored empty group %+v", d)
	}
	// The generation continues after the restart.
	ch := join(t, c2, joinReq("g", "", "", "range"))
	if r := wait(t, ch); r.Err != nil || r.Generation != a.Generation+2 {
		t.Fatalf("join after restore: %+v, want generation %d", r, a.Generation+2)
	}

	if _, err := c.Delete("g"); err != nil {
		t.Fatal(err)
	}
	del := c.TakeMetadata()
	if len(del) != 1 || del[0].Value != nil {
		t.Fatalf("records after delete: %+v, want a tombstone", del)
	}
	c3 := replay(t, append(recs, del...)...)
	if d := c3.Describe("g"); d.State != Dead {
		t.Fatalf("group after its tombstone: %+v", d)
	}
	if got := c3.List(); len(got) != 0 {
		t.Fatalf("groups after a tombstone: %v", got)
	}
	// A group that never had metadata gets no tombstone.
	c.Commit("offsets-only", map[TopicPartition]Offset{{"t", 0}: {Offset: 1}})
	c.Delete("offsets-only")
	if recs := c.TakeMetadata(); recs != nil {
		t.Fatalf("records after deleting an offsets-only group: %+v", recs)
	}
}

func TestMetadataRecordsRejectUnknownVersion(t *testing.T) {
	c := testCoordinator(t)
	v := []byte{0, 9, 0, 0}
	if err := c.Load(GroupMetadataKey("g"), v); err == nil {
		t.Fatal("value version 9 accepted")
	}
}
