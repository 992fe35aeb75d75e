package broker_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/streamd/streamd/core/broker/brokertest"
)

// TestGroup848Protocol checks the KIP-848 wire behaviour a client or tool sees with raw
// requests: errors and their messages, assignments by topic id, the other group APIs on a
// consumer group (ListGroups, DescribeGroups, ConsumerGroupDescribe, OffsetCommit v9 with
// the member epoch, OffsetFetch v9, OffsetDelete, DeleteGroups) and that a group id is
// either classic or consumer.
func TestGroup848Protocol(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	const topic, grp = "proto848", "g-proto848"
	createTopic(t, adm, topic, 2, nil)
	md, err := adm.Metadata(ctxT(t, 5*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	topicID := md.Topics[topic].ID

	bad := cgJoin(grp, "m1", topic)
	bad.ServerAssignor = kmsg.StringPtr("fastest")
	if r := cgHeartbeat(t, cl, bad); r.ErrorCode != kerr.UnsupportedAssignor.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "uniform, range") {
		t.Errorf("unknown server assignor: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	bad = cgJoin(grp, "m1", topic)
	bad.Topics = nil
	if r := cgHeartbeat(t, cl, bad); r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil {
		t.Errorf("join without an owned partitions list: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	bad = cgJoin(grp, "m1")
	bad.SubscribedTopicRegex = kmsg.StringPtr("(")
	if r := cgHeartbeat(t, cl, bad); r.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Errorf("bad regex: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	join := cgJoin(grp, "m1", topic)
	join.ServerAssignor = kmsg.StringPtr("range")
	r := cgHeartbeat(t, cl, join)
	if r.ErrorCode != 0 || r.MemberEpoch != 1 || r.Assignment == nil || len(r.Assignment.Topics) != 1 ||
		r.Assignment.Topics[0].TopicID != topicID || !slices.Equal(r.Assignment.Topics[0].Partitions, []int32{0, 1}) {
		t.Fatalf("join: %v %+v", kerr.ErrorForCode(r.ErrorCode), r)
	}
	if r.HeartbeatIntervalMillis != 100 {
		t.Errorf("heartbeat interval %dms, want group.consumer.heartbeat.interval.ms 100", r.HeartbeatIntervalMillis)
	}
	beat := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	beat.Group, beat.MemberID, beat.MemberEpoch, beat.RebalanceTimeoutMillis = grp, "m1", 7, -1
	if r := cgHeartbeat(t, cl, beat); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("heartbeat with a future epoch: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	beat.MemberID = "nobody"
	if r := cgHeartbeat(t, cl, beat); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat of an unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// Classic and consumer groups do not mix.
	if j := rawJoin(t, cl, grp, "", "", topic, time.Second); j.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("JoinGroup of a consumer group: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	if j := rawJoin(t, cl, "classic848", "", "", topic, 5*time.Second); j.ErrorCode != 0 {
		t.Fatalf("classic join: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	if r := cgHeartbeat(t, cl, cgJoin("classic848", "m2", topic)); r.ErrorCode != kerr.GroupIDNotFound.Code || r.ErrorMessage == nil {
		t.Errorf("ConsumerGroupHeartbeat of a classic group: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	// Admin APIs.
	cgd, err := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), grp, "classic848")
	if err != nil {
		t.Fatal(err)
	}
	if g := cgd[grp]; g.Err != nil || g.State != "Stable" || g.Epoch != 1 || g.AssignmentEpoch != 1 || g.AssignorName != "range" ||
		len(g.Members) != 1 || !slices.Equal(g.Members[0].SubscribedTopics, []string{topic}) || len(g.Members[0].Assignment[topic]) != 2 {
		t.Errorf("ConsumerGroupDescribe: %+v", g)
	}
	if g := cgd["classic848"]; !errors.Is(g.Err, kerr.GroupIDNotFound) {
		t.Errorf("ConsumerGroupDescribe of a classic group: %v", g.Err)
	}
	if dg, _ := adm.DescribeGroups(ctxT(t, 5*time.Second), grp); dg[grp].State != "Dead" {
		t.Errorf("DescribeGroups of a consumer group: %q, want Dead (as Kafka)", dg[grp].State)
	}
	lg, err := adm.ListGroupsByType(ctxT(t, 5*time.Second), []string{"consumer"})
	if err != nil || !slices.Equal(lg.Groups(), []string{grp}) || lg[grp].State != "Stable" || lg[grp].ProtocolType != "consumer" {
		t.Errorf("ListGroups of type consumer: %v %+v", err, lg)
	}
	if lg, _ := adm.ListGroupsByType(ctxT(t, 5*time.Second), []string{"classic"}); !slices.Equal(lg.Groups(), []string{"classic848"}) {
		t.Errorf("ListGroups of type classic: %v", lg.Groups())
	}

	// OffsetCommit v9 carries the member epoch.
	commit := func(cl *kgo.Client, epoch int32, member string) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = grp, epoch, member
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 5
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t, 5*time.Second), cl)
		if err != nil {
			t.Fatal(err)
		}
		return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err := commit(cl, 2, "m1"); !errors.Is(err, kerr.StaleMemberEpoch) {
		t.Errorf("commit with a future epoch: %v", err)
	}
	if err := commit(cl, 1, "m1"); err != nil {
		t.Errorf("commit at the member epoch: %v", err)
	}
	v8 := kversion.Stable()
	v8.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 8)
	if err := commit(newClient(t, addr, kgo.MaxVersions(v8)), 1, "m1"); !errors.Is(err, kerr.UnsupportedVersion) {
		t.Errorf("commit v8 by a consumer group member: %v", err)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group, fg.MemberID, fg.MemberEpoch = grp, kmsg.StringPtr("m1"), 0
	fetch.Groups = append(fetch.Groups, fg)
	if fr, err := fetch.RequestWith(ctxT(t, 5*time.Second), cl); err != nil || fr.Groups[0].ErrorCode != kerr.StaleMemberEpoch.Code {
		t.Errorf("OffsetFetch with a stale member epoch: %v %+v", err, fr)
	}
	if got, err := adm.FetchOffsets(ctxT(t, 5*time.Second), grp); err != nil || got[topic][0].At != 5 {
		t.Errorf("admin OffsetFetch: %v %+v", err, got)
	}
	one := kadm.TopicsSet{topic: {0: {}}}
	if dr, err := adm.DeleteOffsets(ctxT(t, 5*time.Second), grp, one); err != nil || !errors.Is(dr.Error(), kerr.GroupSubscribedToTopic) {
		t.Errorf("OffsetDelete of a subscribed topic: %v %v", err, dr.Error())
	}
	if dr, err := adm.DeleteGroups(ctxT(t, 5*time.Second), grp); err != nil || !errors.Is(dr[grp].Err, kerr.NonEmptyGroup) {
		t.Errorf("DeleteGroups of a group with members: %v %v", err, dr[grp].Err)
	}
	leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch = grp, "m1", -1
	if r := cgHeartbeat(t, cl, leave); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %v %+v", kerr.ErrorForCode(r.ErrorCode), r)
	}
	if lg, _ := adm.ListGroups(ctxT(t, 5*time.Second), "Empty"); !slices.Contains(lg.Groups(), grp) {
		t.Errorf("empty consumer group not listed as Empty: %v", lg)
	}
	if dr, err := adm.DeleteGroups(ctxT(t, 5*time.Second), grp); err != nil || dr[grp].Err != nil {
		t.Fatalf("DeleteGroups of the empty group: %v %v", err, dr[grp].Err)
	}
	if got, _ := adm.FetchOffsets(ctxT(t, 5*time.Second), grp); len(got) != 0 {
		t.Errorf("offsets of a deleted group: %v", got)
	}
	if cgd, _ := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), grp); !errors.Is(cgd[grp].Err, kerr.GroupIDNotFound) {
		t.Errorf("describe of a deleted group: %+v", cgd[grp])
	}
}

// TestGroup848Regex: a kgo member subscribing with a regular expression (resolved by the
// broker) consumes every matching topic, including one created while it runs.
func TestGroup848Regex(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	createTopic(t, adm, "rx848-a", 2, nil)
	createTopic(t, adm, "other848", 1, nil)
	m := start848(t, addr, "g-rx848", "m", []string{"rx848-.*"}, nil, kgo.ConsumeRegex())
	vals := produceValues(t, addr, "rx848-a", "a", 10, 2)
	waitProcessed(t, vals, m)
	createTopic(t, adm, "rx848-b", 3, nil)
	vals = append(vals, produceValues(t, addr, "rx848-b", "b", 10, 3)...)
	produceValues(t, addr, "other848", "o", 3, 1)
	waitProcessed(t, vals, m)
	for v := range m.seenCopy() {
		if strings.HasPrefix(v, "o-") {
			t.Errorf("record %s of a topic the regex does not match was consumed", v)
		}
	}
	d, err := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), "g-rx848")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["g-rx848"]; len(g.Members) != 1 || g.Members[0].SubscribedTopicRegex == nil || len(g.Members[0].Assignment["rx848-b"]) != 3 {
		t.Errorf("described %+v", g)
	}
}
