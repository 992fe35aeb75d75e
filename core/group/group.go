// Package group is the consumer group coordinator state machine (the classic protocol
// here and in membership.go, the KIP-848 consumer protocol in consumer*.go), free of
// networking and storage: the broker decodes requests, calls the Coordinator, and
// writes committed offsets to __consumer_offsets itself (records encoded by Key/Value
// helpers in offsets.go with kmsg's OffsetCommitKey/OffsetCommitValue schema).
//
// States follow Kafka: Empty → PreparingRebalance → CompletingRebalance → Stable, and Dead
// for a deleted group. A rebalance completes when every known member has rejoined (and,
// for a group leaving Empty, group.initial.rebalance.delay.ms has passed) or when the
// largest rebalance timeout of the members passes; members that did not rejoin are
// removed. The protocol is chosen by votes among the protocols every member supports.
// The leader is the first joiner (the next oldest member if it leaves). Static members
// (group.instance.id): a known instance id joining without a member id takes over the old
// member (whose calls then get FENCED_INSTANCE_ID); in Stable, when the selected protocol
// would not change, it keeps the generation and assignment without a rebalance.
// Committed offsets live in the group (an offsets-only group is Empty); a group that never
// formed and holds no offsets is forgotten by the sweeper. Offsets do not expire (yet).
//
// Group metadata (generation, members, assignments) is persisted as Kafka's
// GroupMetadata records, queued for the caller to write; see persist.go.
//
// Broker-owned assignment: a group with group.assignor set (SetAssignor) gets its
// assignment computed by the coordinator at SyncGroup instead of the leader's plan; see
// assign.go for the format and the cooperative hold-back rule.
//
// Concurrency: each Group is guarded by its own mutex; the Coordinator's mutex guards only
// the name → group map. Waiting callers (JoinGroup, SyncGroup) get a channel that receives
// their answer exactly once. One sweeper goroutine (stopped by Close) enforces deadlines:
// session timeouts, pending member ids, rebalance timeouts and the initial delay. Errors
// are *kerr.Error values (nil = success).
package group

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/assignor"
)

// State is a group state (Kafka's names from String).
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}[s]
}

// Config holds the coordinator's group.* settings.
type Config struct {
	MinSessionTimeout     time.Duration
	MaxSessionTimeout     time.Duration
	InitialRebalanceDelay time.Duration
	MaxSize               int           // members per group; <= 0 = unlimited
	Tick                  time.Duration // sweeper period; default 50ms

	// Partitions returns a topic's partition count (0: no such topic), for broker-side
	// assignment (group.assignor). It is called with a group's mutex held.
	Partitions func(topic string) int32
	// Lookup resolves a group.assignor name to a strategy (e.g. uploaded Wasm assignors,
	// "wasm:NAME"); its error says why a name is unusable. Nil: the built-ins of package
	// assignor only.
	Lookup func(name string) (assignor.Assignor, error)
	// DefaultAssignor is the group.assignor of groups that have none of their own
	// ("" = the leader member assigns; KIP-848 members choose). It is resolved through
	// Lookup when used; an unusable name is logged and ignored like a failing strategy.
	DefaultAssignor string
	// SaveAssignors persists every group.assignor setting (see SetAssignor); nil: memory only.
	SaveAssignors func(map[string]string) error
	Logger        *slog.Logger // nil: discard

	// KIP-848 consumer groups (consumer.go).
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms; default 45s
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms; default 5s
	ConsumerAssignors         []string      // group.consumer.assignors; default uniform, range
	ConsumerMaxSize           int           // group.consumer.max.size; <= 0 = unlimited
	// TopicID and TopicName map topic names to ids and back (assignments are persisted by
	// topic id, as Kafka does); Topics lists every topic name (regex subscriptions). They
	// are called with a group's mutex held. Nil: no topics exist.
	TopicID   func(name string) ([16]byte, bool)
	TopicName func(id [16]byte) (string, bool)
	Topics    func() []string
}

// Protocol is one (name, metadata) pair of a JoinGroup request.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group, MemberID, InstanceID string
	ClientID, ClientHost        string
	ProtocolType                string
	Protocols                   []Protocol
	SessionTimeout              time.Duration
	RebalanceTimeout            time.Duration
	RequireKnownMember          bool // JoinGroup v4+: an unknown member first gets MEMBER_ID_REQUIRED
}

// JoinMember is one member in the leader's JoinGroup response.
type JoinMember struct {
	MemberID, InstanceID string
	Metadata             []byte
}

// JoinResult is a JoinGroup answer.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   string
	Protocol       string
	LeaderID       string
	SkipAssignment bool
	Members        []JoinMember // for the leader only
}

// SyncResult is a SyncGroup answer.
type SyncResult struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

type member struct {
	id, instanceID       string
	clientID, clientHost string
	protocolType         string
	protocols            []Protocol
	session, rebalance   time.Duration
	assignment           []byte
	deadline             time.Time // session expiry
	joinCh               chan JoinResult
	syncCh               chan SyncResult
}

func (m *member) metadataFor(proto string) []byte {
	for _, p := range m.protocols {
		if p.Name == proto {
			return p.Metadata
		}
	}
	return nil
}

// Group is one consumer group; every field is guarded by mu.
type Group struct {
	name string
	mu   sync.Mutex

	state        State
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	order        []string          // member ids in join order
	static       map[string]string // instance id → member id
	pending      map[string]time.Time

	joinDeadline time.Time // rebalance timeout of a PreparingRebalance
	delayUntil   time.Time // initial rebalance delay end
	delayMax     time.Time
	syncDeadline time.Time // CompletingRebalance: the leader must sync before
	offsets      map[TopicPartition]Offset
	removed      bool              // no longer in the coordinator's map
	emptySince   time.Time         // when members last left (zero: never had members)
	assignor     string            // group.assignor ("" = the leader assigns)
	assignedBy   string            // strategy of the current assignment ("" = the leader)
	assignError  string            // why the last broker-side assignment was refused ("" = it was not)
	lastPlan     map[string][]byte // member id (and "instance:ID") → last assignment handed out
	lastBy       string            // strategy of lastPlan
	persisted    bool              // a group metadata record exists (or is queued) for it

	cg      *consumerGroup // non-nil: a KIP-848 consumer group (the classic fields are unused)
	lastSeq uint64         // sequence of the last record queued for this group (persist.go)
}

// Coordinator holds every group.
type Coordinator struct {
	cfg       Config
	cfgMu     sync.Mutex // serializes SetAssignor (and its SaveAssignors call)
	mu        sync.Mutex
	groups    map[string]*Group
	assignors map[string]string // group.assignor settings, guarded by mu
	stop      chan struct{}
	done      chan struct{}
	now       func() time.Time

	pmu       sync.Mutex            // guards pend, pendOrder, seq, durable, durableCh (a leaf lock)
	pend      map[string]pendRecord // records to write, by key (the latest value wins)
	pendOrder []string
	pendCh    chan struct{} // capacity 1: records are waiting
	seq       uint64        // sequence of the last queued record
	durable   uint64        // every record up to this sequence has been written (Persisted)
	durableCh chan struct{} // closed when durable advances

	topicsVersion atomic.Uint64 // bumped by TopicsChanged
}

// New starts a coordinator (and its sweeper goroutine; stop it with Close).
func New(cfg Config) *Coordinator {
	if cfg.Tick <= 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = 45 * time.Second
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = 5 * time.Second
	}
	if len(cfg.ConsumerAssignors) == 0 {
		cfg.ConsumerAssignors = []string{"uniform", "range"}
	}
	c := &Coordinator{cfg: cfg, groups: map[string]*Group{}, assignors: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{}), now: time.Now,
		pend: map[string]pendRecord{}, pendCh: make(chan struct{}, 1), durableCh: make(chan struct{})}
	go c.sweep()
	return c
}

// Close stops the sweeper and answers every waiting caller with NOT_COORDINATOR.
func (c *Coordinator) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	<-c.done
	for _, g := range c.snapshot() {
		g.mu.Lock()
		for _, m := range g.members {
			m.answerJoin(JoinResult{Err: kerr.NotCoordinator})
			m.answerSync(SyncResult{Err: kerr.NotCoordinator})
		}
		g.mu.Unlock()
	}
}

func (c *Coordinator) sweep() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		now := c.now()
		for _, g := range c.snapshot() {
			g.mu.Lock()
			if g.cg != nil {
				c.expireConsumer(g, now)
				g.mu.Unlock()
				continue
			}
			c.expire(g, now)
			unused := g.state == Empty && g.generation == 0 && len(g.pending) == 0 && len(g.offsets) == 0
			g.mu.Unlock()
			if unused {
				c.drop(g, true)
			}
		}
	}
}

// drop forgets an Empty group without members and offsets; neverFormed also requires
// that it never completed a rebalance (a failed or abandoned first join).
func (c *Coordinator) drop(g *Group, neverFormed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.groups[g.name] == g && g.state == Empty && (!neverFormed || g.generation == 0) &&
		len(g.pending) == 0 && len(g.offsets) == 0 && len(g.members) == 0 && (g.cg == nil || len(g.cg.members) == 0) {
		delete(c.groups, g.name)
		g.removed = true
		c.persistTombstone(g)
		c.dropConsumer(g)
	}
}

func (c *Coordinator) snapshot() []*Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	return out
}

// lock returns the group locked (creating it Empty if create is set), or nil. A group
// removed from the map between the lookup and the lock is looked up again.
func (c *Coordinator) lock(name string, create bool) *Group {
	for {
		g := c.get(name, create)
		if g == nil {
			return nil
		}
		g.mu.Lock()
		if !g.removed {
			return g
		}
		g.mu.Unlock()
	}
}

// get returns the group, creating it (Empty) if create is set.
func (c *Coordinator) get(name string, create bool) *Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil && create {
		g = &Group{name: name, members: map[string]*member{}, static: map[string]string{},
			pending: map[string]time.Time{}, offsets: map[TopicPartition]Offset{}, assignor: c.assignors[name]}
		c.groups[name] = g
	}
	return g
}

func (m *member) answerJoin(r JoinResult) {
	if m.joinCh != nil {
		m.joinCh <- r
		m.joinCh = nil
	}
}

func (m *member) answerSync(r SyncResult) {
	if m.syncCh != nil {
		m.syncCh <- r
		m.syncCh = nil
	}
}

func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func (g *Group) setState(s State, now time.Time) {
	g.state = s
	if s == Empty {
		g.emptySince = now
	}
}

// supportsProtocols reports whether a joiner fits the group (Kafka's rule): an empty
// group takes any non-empty protocol type and list; otherwise the type must match and one
// protocol must be supported by every other member.
func (g *Group) supportsProtocols(ptype string, protos []Protocol, self string) bool {
	others := 0
	for id := range g.members {
		if id != self {
			others++
		}
	}
	if others == 0 {
		return ptype != "" && len(protos) > 0
	}
	if ptype != g.protocolType {
		return false
	}
	for _, p := range protos {
		all := true
		for id, m := range g.members {
			if id != self && !hasProto(m.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasProto(ps []Protocol, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// selectProtocol picks, among the protocols every member supports, the one most members
// prefer (each member votes for its first supported candidate); ties go to the leader's
// preference order.
func (g *Group) selectProtocol() string {
	lead := g.members[g.leader]
	if lead == nil {
		return ""
	}
	var candidates []string
	for _, p := range lead.protocols {
		all := true
		for _, m := range g.members {
			if !hasProto(m.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

// Listing is one group of ListGroups.
type Listing struct {
	Group, ProtocolType string
	Type                string // "classic" or "consumer" (KIP-848)
	State               string // Kafka's state name of the group's type
}

// List returns every live group, sorted by name.
func (c *Coordinator) List() []Listing {
	var out []Listing
	for _, g := range c.snapshot() {
		g.mu.Lock()
		switch {
		case g.cg != nil:
			out = append(out, Listing{Group: g.name, ProtocolType: ConsumerProtocolType, Type: "consumer", State: g.cg.stateName()})
		case g.state != Dead:
			out = append(out, Listing{Group: g.name, ProtocolType: g.protocolType, Type: "classic", State: g.state.String()})
		}
		g.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// MemberDescription is one member of DescribeGroups.
type MemberDescription struct {
	MemberID, InstanceID, ClientID, ClientHost string
	Metadata, Assignment                       []byte
}

// Description is DescribeGroups' view of a group.
type Description struct {
	State        State
	ProtocolType string
	Protocol     string
	// AssignedBy is the broker strategy (group.assignor) that produced the current
	// assignment of a Stable group; "" when the leader member assigned.
	AssignedBy string
	// AssignError says why the last broker-side assignment (group.assignor) was refused,
	// in which case the members kept their previous assignment; "" when it was not.
	AssignError string
	Members     []MemberDescription
}

// Describe describes a classic group; an unknown group, or a KIP-848 consumer group, is
// reported Dead (as Kafka does for DescribeGroups below version 6).
func (c *Coordinator) Describe(name string) Description {
	g := c.lock(name, false)
	if g == nil {
		return Description{State: Dead}
	}
	defer g.mu.Unlock()
	if g.cg != nil {
		return Description{State: Dead}
	}
	d := Description{State: g.state, ProtocolType: g.protocolType, Protocol: g.protocol, AssignError: g.assignError}
	if g.state == Dead {
		return Description{State: Dead}
	}
	for _, id := range g.order {
		m := g.members[id]
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == Stable {
			md.Metadata = m.metadataFor(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	if g.state != Stable {
		d.Protocol = ""
	} else {
		d.AssignedBy = g.assignedBy
	}
	return d
}

// Delete removes an empty group: its committed offsets are returned so the caller can
// write tombstones (the group metadata tombstone is queued, see TakeMetadata). NON_EMPTY_GROUP if it has members, GROUP_ID_NOT_FOUND if unknown.
func (c *Coordinator) Delete(name string) ([]TopicPartition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil {
		return nil, kerr.GroupIDNotFound
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.state == Dead:
		return nil, kerr.GroupIDNotFound
	case g.cg != nil && len(g.cg.members) > 0:
		return nil, kerr.NonEmptyGroup
	case g.state == Empty:
	default:
		return nil, kerr.NonEmptyGroup
	}
	tps := make([]TopicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	g.setState(Dead, c.now())
	g.offsets = map[TopicPartition]Offset{}
	g.removed = true
	delete(c.groups, name)
	c.persistTombstone(g)
	c.dropConsumer(g)
	return tps, nil
}
