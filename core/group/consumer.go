package group

// KIP-848 consumer groups (group type "consumer", ConsumerGroupHeartbeat): the coordinator
// owns the assignment. Every member heartbeats with its member epoch (0 joins, -1 leaves,
// -2 leaves temporarily as a static member), its subscription (topic names and/or a
// regular expression, re2 syntax matched against whole topic names) and, in a full
// request, the partitions it owns. Three epochs, as in Kafka:
//
//   - the group epoch is bumped when a member joins, leaves, is fenced or changes its
//     subscription, when the partitions of subscribed topics change (TopicsChanged), and
//     when group.assignor changes;
//   - the target assignment epoch: when it is behind the group epoch, the next heartbeat
//     computes a new target assignment for every member with the server assignor (the
//     group's group.assignor if set, else the one most members ask for in ServerAssignor,
//     else the first of Config.ConsumerAssignors), resolved through strategy();
//   - each member's epoch moves to the target epoch as it is reconciled
//     (consumer_reconcile.go): a member first gives up the partitions it must lose
//     (state UNREVOKED_PARTITIONS, acknowledged by a heartbeat that no longer lists them),
//     and gets a partition only once no other member holds it (UNRELEASED_PARTITIONS
//     while it waits). So a partition never has two owners.
//
// Errors are Kafka's: FENCED_MEMBER_EPOCH for a wrong epoch (the previous epoch is
// accepted with a subset of the assignment, for lost responses; epoch 0 from a known
// member rejoins it in place), UNKNOWN_MEMBER_ID, UNRELEASED_INSTANCE_ID (a static
// instance id still held by a live member), FENCED_INSTANCE_ID, UNSUPPORTED_ASSIGNOR,
// INVALID_REGULAR_EXPRESSION, GROUP_MAX_SIZE_REACHED, INVALID_REQUEST. A group id is
// either classic or consumer: a heartbeat for a classic group with members gets
// GROUP_ID_NOT_FOUND, a JoinGroup for a consumer group with members
// INCONSISTENT_GROUP_PROTOCOL; an empty group of either type is converted (its committed
// offsets stay). Mixed groups (classic members inside a consumer group, Kafka's
// group.consumer.migration.policy) are not supported.
//
// Timeouts: a member that does not heartbeat for Config.ConsumerSessionTimeout, or does
// not revoke within its rebalance timeout, is fenced (removed; the group epoch is bumped).
// A static member that left with epoch -2 keeps its assignment for the session timeout
// and gets it back when it rejoins with the same instance id, without a new epoch.
//
// State is persisted as Kafka's ConsumerGroup* records of __consumer_offsets
// (consumer_records.go) and queued like the classic group metadata (persist.go).

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MemberState is the reconciliation state of a consumer group member (Kafka's values,
// which are also persisted).
type MemberState int8

const (
	MemberStable     MemberState = 0 // reconciled to the target assignment epoch
	MemberUnrevoked  MemberState = 1 // must revoke partitions before it can move on
	MemberUnreleased MemberState = 2 // at the target epoch, waiting for partitions others still hold
)

func (s MemberState) String() string {
	switch s {
	case MemberStable:
		return "STABLE"
	case MemberUnrevoked:
		return "UNREVOKED_PARTITIONS"
	case MemberUnreleased:
		return "UNRELEASED_PARTITIONS"
	}
	return "UNKNOWN"
}

// Member epochs with a meaning in ConsumerGroupHeartbeat.
const (
	JoinEpoch        int32 = 0
	LeaveEpoch       int32 = -1
	StaticLeaveEpoch int32 = -2
)

// Partitions maps a topic to its partitions, sorted.
type Partitions map[string][]int32

// Error is a coordinator error: a Kafka error code and a message for the client.
type Error struct {
	Code *kerr.Error
	Msg  string
}

func errorf(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return "group: " + e.Code.Message + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Code }

// KafkaCode returns the error code and message for the response.
func (e *Error) KafkaCode() (int16, string) { return e.Code.Code, e.Msg }

// cmember is one member of a consumer group.
type cmember struct {
	id, instanceID, rackID string
	clientID, clientHost   string
	topics                 []string // subscribed topic names, sorted
	regex                  string   // subscribed regular expression ("" = none)
	serverAssignor         string
	rebalance              time.Duration

	epoch, prevEpoch int32
	state            MemberState
	assigned         Partitions // partitions given to the member (sent in its assignment)
	revoking         Partitions // partitions it must give up (still held)
	target           Partitions // its part of the target assignment
	// since is the member epoch at which each held (assigned or revoking) partition was
	// given to it: commits with an older epoch are accepted for partitions held since
	// (KIP-1251).
	since map[TopicPartition]int32

	deadline time.Time // session expiry
	revokeBy time.Time // rebalance timeout while UNREVOKED_PARTITIONS (zero otherwise)
	hasMeta  bool      // load time: a member metadata record was read
}

// consumerGroup is the KIP-848 state of a Group (Group.cg).
type consumerGroup struct {
	epoch       int32
	targetEpoch int32
	members     map[string]*cmember
	static      map[string]string         // instance id → member id
	owners      map[TopicPartition]string // partition → member holding it (assigned or revoking)
	assignedBy  string                    // strategy that computed the target assignment
	sig         string                    // subscribed topics and partition counts at the last check
	checked     uint64                    // Coordinator.topicsVersion at the last check
	resolved    map[string][]string       // regular expression → matching topics
	hasEpoch    bool                      // load time: a group metadata record was read
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*cmember{}, static: map[string]string{},
		owners: map[TopicPartition]string{}, resolved: map[string][]string{}}
}

// stateName is Kafka's consumer group state.
func (cg *consumerGroup) stateName() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.epoch > cg.targetEpoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.targetEpoch || m.state != MemberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// HeartbeatRequest is a ConsumerGroupHeartbeat. Nil pointer and slice fields mean
// "unchanged since the last heartbeat", as on the wire.
type HeartbeatRequest struct {
	Group, MemberID      string
	MemberEpoch          int32
	InstanceID, RackID   *string
	RebalanceTimeout     int32 // ms; -1: unchanged
	Topics               []string
	Regex                *string
	ServerAssignor       *string
	Owned                Partitions // nil: not reported; non-nil (maybe empty): what the member owns
	ClientID, ClientHost string
	GenerateID           bool // version 0: the coordinator chooses the member id on join
}

// HeartbeatResult is a ConsumerGroupHeartbeat answer.
type HeartbeatResult struct {
	Err         error // *Error (or nil)
	MemberID    string
	MemberEpoch int32
	Interval    time.Duration
	Assignment  Partitions // nil: not sent
	// Persist is non-zero when the heartbeat changed persisted state: answer once
	// WaitPersisted(Persist) returns (Kafka answers after its records are written).
	Persist uint64
}

// TopicsChanged tells the coordinator that topics were created or deleted or got more
// partitions: consumer groups re-check their subscriptions at their next heartbeat.
func (c *Coordinator) TopicsChanged() { c.topicsVersion.Add(1) }

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat.
func (c *Coordinator) ConsumerHeartbeat(r HeartbeatRequest) HeartbeatResult {
	if err := c.checkHeartbeat(&r); err != nil {
		return HeartbeatResult{Err: err}
	}
	g := c.lock(r.Group, r.MemberEpoch == JoinEpoch)
	if g == nil {
		return HeartbeatResult{Err: errorf(kerr.GroupIDNotFound, "Group %s not found.", r.Group)}
	}
	defer g.mu.Unlock()
	seq := g.lastSeq
	res := c.heartbeat(g, &r, c.now())
	if res.Err == nil {
		res.Interval = c.cfg.ConsumerHeartbeatInterval
	}
	if g.lastSeq != seq {
		res.Persist = g.lastSeq
	}
	return res
}

// checkHeartbeat validates a request as Kafka does before touching the group.
func (c *Coordinator) checkHeartbeat(r *HeartbeatRequest) error {
	switch {
	case r.Group == "":
		return errorf(kerr.InvalidRequest, "GroupId can't be empty.")
	case r.InstanceID != nil && *r.InstanceID == "":
		return errorf(kerr.InvalidRequest, "InstanceId can't be empty.")
	case r.RackID != nil && *r.RackID == "":
		return errorf(kerr.InvalidRequest, "RackId can't be empty.")
	case r.MemberEpoch < StaticLeaveEpoch:
		return errorf(kerr.InvalidRequest, "MemberEpoch is invalid.")
	}
	if r.MemberID == "" {
		if !r.GenerateID || r.MemberEpoch != JoinEpoch {
			return errorf(kerr.InvalidRequest, "MemberId can't be empty.")
		}
		r.MemberID = newMemberID("consumer")
	}
	if r.MemberEpoch == JoinEpoch {
		switch {
		case r.RebalanceTimeout == -1:
			return errorf(kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request.")
		case r.Owned == nil || len(r.Owned) > 0:
			return errorf(kerr.InvalidRequest, "TopicPartitions must be empty when (re-)joining.")
		case len(r.Topics) == 0 && (r.Regex == nil || *r.Regex == ""):
			return errorf(kerr.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	}
	if r.RebalanceTimeout < -1 {
		return errorf(kerr.InvalidRequest, "RebalanceTimeoutMs %d is invalid.", r.RebalanceTimeout)
	}
	if r.ServerAssignor != nil && !slices.Contains(c.cfg.ConsumerAssignors, *r.ServerAssignor) {
		return errorf(kerr.UnsupportedAssignor, "ServerAssignor %s is not supported. Supported assignors: %s.",
			*r.ServerAssignor, strings.Join(c.cfg.ConsumerAssignors, ", "))
	}
	if r.Regex != nil && *r.Regex != "" {
		if _, err := compileSubscription(*r.Regex); err != nil {
			return errorf(kerr.InvalidRegularExpression, "SubscribedTopicRegex `%s` is not a valid regular expression: %v.", *r.Regex, err)
		}
	}
	return nil
}

// compileSubscription compiles a subscription regular expression matched against whole
// topic names (Kafka uses re2 as well).
func compileSubscription(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

func (c *Coordinator) heartbeat(g *Group, r *HeartbeatRequest, now time.Time) HeartbeatResult {
	fail := func(err error) HeartbeatResult { return HeartbeatResult{Err: err} }
	cg, err := c.consumerGroupOf(g, r.MemberEpoch == JoinEpoch)
	if err != nil {
		return fail(err)
	}
	if r.MemberEpoch == LeaveEpoch || r.MemberEpoch == StaticLeaveEpoch {
		return c.consumerLeave(g, cg, r, now)
	}
	m, isNew, err := c.memberFor(g, cg, r)
	if err != nil {
		return fail(err)
	}
	assignedBefore := m.assigned
	subChanged := c.updateConsumerMember(g, m, r)
	bump := isNew || subChanged
	if bump || cg.checked != c.topicsVersion.Load() {
		if c.refreshSubscriptions(cg) {
			bump = true
		}
	}
	if bump {
		c.bumpEpoch(g, cg, "member "+m.id+" joined or changed its subscription")
	}
	if cg.epoch > cg.targetEpoch {
		c.computeTarget(g, cg)
	}
	c.reconcile(g, cg, m, r.Owned, now)
	m.deadline = now.Add(c.cfg.ConsumerSessionTimeout)
	res := HeartbeatResult{MemberID: m.id, MemberEpoch: m.epoch}
	if r.Owned != nil || r.MemberEpoch == JoinEpoch || !equalPartitions(assignedBefore, m.assigned) {
		res.Assignment = clonePartitions(m.assigned)
	}
	return res
}

// consumerGroupOf returns g's consumer group state, converting an empty classic group
// when a member joins.
func (c *Coordinator) consumerGroupOf(g *Group, join bool) (*consumerGroup, error) {
	if g.cg != nil {
		return g.cg, nil
	}
	if len(g.members) > 0 || len(g.pending) > 0 || g.state != Empty || !join {
		return nil, errorf(kerr.GroupIDNotFound, "Group %s is not a consumer group.", g.name)
	}
	if g.generation > 0 || len(g.offsets) > 0 {
		c.cfg.Logger.Info("empty classic group converted to a consumer group", "group", g.name)
	}
	c.persistTombstone(g)
	g.protocolType, g.protocol, g.leader, g.assignedBy = "", "", "", ""
	g.cg = newConsumerGroup()
	return g.cg, nil
}

// consumerLeave handles member epochs -1 and -2.
func (c *Coordinator) consumerLeave(g *Group, cg *consumerGroup, r *HeartbeatRequest, now time.Time) HeartbeatResult {
	var m *cmember
	if r.InstanceID != nil {
		id, ok := cg.static[*r.InstanceID]
		if !ok {
			return HeartbeatResult{Err: errorf(kerr.UnknownMemberID, "Instance id %s is unknown.", *r.InstanceID)}
		}
		if id != r.MemberID {
			return HeartbeatResult{Err: errorf(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", r.MemberID, *r.InstanceID, id)}
		}
		m = cg.members[id]
	} else if m = cg.members[r.MemberID]; m == nil {
		return HeartbeatResult{Err: errorf(kerr.UnknownMemberID, "Member %s is not a member of group %s.", r.MemberID, g.name)}
	}
	if r.MemberEpoch == StaticLeaveEpoch && m.instanceID != "" {
		// The static member keeps its assignment until it rejoins or its session ends;
		// what it was revoking is released.
		cg.release(m)
		m.prevEpoch, m.epoch = m.epoch, StaticLeaveEpoch
		m.revoking, m.revokeBy = nil, time.Time{}
		cg.claim(m)
		c.persistCurrent(g, m)
		c.cfg.Logger.Info("static consumer group member left temporarily", "group", g.name, "member", m.id, "instance", m.instanceID)
		return HeartbeatResult{MemberID: m.id, MemberEpoch: StaticLeaveEpoch}
	}
	c.removeConsumerMember(g, cg, m, "left the group", now)
	return HeartbeatResult{MemberID: m.id, MemberEpoch: r.MemberEpoch}
}

// memberFor finds or creates the heartbeating member (Kafka's rules for dynamic and
// static members). isNew: it did not exist before.
func (c *Coordinator) memberFor(g *Group, cg *consumerGroup, r *HeartbeatRequest) (m *cmember, isNew bool, err error) {
	join := r.MemberEpoch == JoinEpoch
	if r.InstanceID == nil {
		if m = cg.members[r.MemberID]; m != nil {
			if join {
				return m, false, nil // a known member rejoins in place (KIP-848)
			}
			return m, false, checkEpoch(m, r)
		}
		if !join {
			return nil, false, errorf(kerr.UnknownMemberID, "Member %s is not a member of group %s.", r.MemberID, g.name)
		}
		return c.addConsumerMember(g, cg, r.MemberID)
	}
	inst := *r.InstanceID
	cur := cg.members[cg.static[inst]]
	if !join {
		switch {
		case cur == nil:
			return nil, false, errorf(kerr.UnknownMemberID, "Instance id %s is unknown.", inst)
		case cur.id != r.MemberID:
			return nil, false, errorf(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", r.MemberID, inst, cur.id)
		}
		return cur, false, checkEpoch(cur, r)
	}
	switch {
	case cur == nil:
		if m = cg.members[r.MemberID]; m != nil {
			return m, false, nil
		}
		return c.addConsumerMember(g, cg, r.MemberID)
	case cur.id == r.MemberID:
		return cur, false, nil // the same member rejoins (a lost response, or after being fenced)
	case cur.epoch != StaticLeaveEpoch:
		return nil, false, errorf(kerr.UnreleasedInstanceID, "Static member %s with instance id %s cannot join the group because the instance id is owned by %s member.", r.MemberID, inst, cur.id)
	}
	if cg.members[r.MemberID] != nil {
		return nil, false, errorf(kerr.InvalidRequest, "Member id %s is already used by another member.", r.MemberID)
	}
	return c.replaceStaticConsumer(g, cg, cur, r.MemberID), false, nil
}

func (c *Coordinator) addConsumerMember(g *Group, cg *consumerGroup, id string) (*cmember, bool, error) {
	if c.cfg.ConsumerMaxSize > 0 && len(cg.members) >= c.cfg.ConsumerMaxSize {
		return nil, false, errorf(kerr.GroupMaxSizeReached, "The consumer group has reached its maximum capacity of %d members.", c.cfg.ConsumerMaxSize)
	}
	m := &cmember{id: id}
	cg.members[id] = m
	c.cfg.Logger.Info("member joins the consumer group", "group", g.name, "member", id)
	return m, true, nil
}

// replaceStaticConsumer hands a static member that left with epoch -2 over to a new member id:
// the new member inherits its subscription and assignment.
func (c *Coordinator) replaceStaticConsumer(g *Group, cg *consumerGroup, old *cmember, id string) *cmember {
	m := *old
	m.id = id
	m.epoch, m.prevEpoch = 0, 0
	m.revokeBy = time.Time{}
	cg.release(old)
	delete(cg.members, old.id)
	cg.members[id] = &m
	cg.static[m.instanceID] = id
	cg.claim(&m)
	c.persistMemberTombstones(g, old.id)
	c.persistMember(g, &m)
	c.persistTarget(g, &m)
	c.persistCurrent(g, &m)
	c.cfg.Logger.Info("static member rejoins the consumer group", "group", g.name, "instance", m.instanceID, "member", id, "replaces", old.id)
	return &m
}

// checkEpoch is Kafka's member epoch check of a heartbeat.
func checkEpoch(m *cmember, r *HeartbeatRequest) error {
	e := r.MemberEpoch
	switch {
	case e > m.epoch:
		return errorf(kerr.FencedMemberEpoch, "The consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", e, m.epoch)
	case e < m.epoch && (e != m.prevEpoch || !subset(r.Owned, m.assigned)):
		return errorf(kerr.FencedMemberEpoch, "The consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", e, m.epoch)
	}
	return nil
}

// updateConsumerMember applies the request's member fields; it reports whether the
// subscription changed (persisting the member record when anything did).
func (c *Coordinator) updateConsumerMember(g *Group, m *cmember, r *HeartbeatRequest) bool {
	changed, subChanged := false, false
	set := func(dst *string, v string) {
		if *dst != v {
			*dst, changed = v, true
		}
	}
	if r.InstanceID != nil {
		set(&m.instanceID, *r.InstanceID)
		g.cg.static[m.instanceID] = m.id
	}
	if r.RackID != nil {
		set(&m.rackID, *r.RackID)
	}
	if r.RebalanceTimeout >= 0 {
		if d := time.Duration(r.RebalanceTimeout) * time.Millisecond; d != m.rebalance {
			m.rebalance, changed = d, true
		}
	}
	if r.ServerAssignor != nil {
		set(&m.serverAssignor, *r.ServerAssignor)
	}
	if r.Topics != nil {
		ts := slices.Clone(r.Topics)
		slices.Sort(ts)
		ts = slices.Compact(ts)
		if !slices.Equal(ts, m.topics) {
			m.topics, subChanged = ts, true
		}
	}
	if r.Regex != nil && *r.Regex != m.regex {
		m.regex, subChanged = *r.Regex, true
	}
	set(&m.clientID, r.ClientID)
	set(&m.clientHost, r.ClientHost)
	if changed || subChanged {
		c.persistMember(g, m)
	}
	return subChanged
}

func (c *Coordinator) bumpEpoch(g *Group, cg *consumerGroup, why string) {
	cg.epoch++
	c.persistEpoch(g)
	c.cfg.Logger.Info("consumer group epoch bumped", "group", g.name, "epoch", cg.epoch, "why", why)
}

// removeConsumerMember fences a member: it is removed, its partitions are released and
// the group epoch is bumped.
func (c *Coordinator) removeConsumerMember(g *Group, cg *consumerGroup, m *cmember, why string, now time.Time) {
	cg.release(m)
	delete(cg.members, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
	c.persistMemberTombstones(g, m.id)
	c.bumpEpoch(g, cg, "member "+m.id+" "+why)
	if len(cg.members) == 0 {
		g.emptySince = now
	}
}

// expireConsumer fences members whose session or rebalance timeout passed (sweeper).
func (c *Coordinator) expireConsumer(g *Group, now time.Time) {
	cg := g.cg
	var expired []string
	for id, m := range cg.members {
		if !now.Before(m.deadline) || m.state == MemberUnrevoked && !m.revokeBy.IsZero() && !now.Before(m.revokeBy) {
			expired = append(expired, id)
		}
	}
	slices.Sort(expired)
	for _, id := range expired {
		m := cg.members[id]
		why := "fenced: partitions not revoked within the rebalance timeout"
		if !now.Before(m.deadline) {
			why = "fenced: session timeout"
		}
		c.removeConsumerMember(g, cg, m, why, now)
	}
}

// dropConsumer forgets g's consumer group state, queueing tombstones for its records.
func (c *Coordinator) dropConsumer(g *Group) {
	cg := g.cg
	if cg == nil {
		return
	}
	for id := range cg.members {
		c.persistMemberTombstones(g, id)
	}
	c.enqueue(g, consumerKey(recTargetMeta, g.name, ""), nil)
	c.enqueue(g, consumerKey(recGroupMeta, g.name, ""), nil)
	g.cg = nil
}
