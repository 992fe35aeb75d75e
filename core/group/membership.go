package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Join handles a JoinGroup. It returns either a result at once (ch == nil) or a channel
// that receives the result when the rebalance completes.
func (c *Coordinator) Join(r JoinRequest) (JoinResult, <-chan JoinResult) {
	if r.SessionTimeout < c.cfg.MinSessionTimeout || r.SessionTimeout > c.cfg.MaxSessionTimeout {
		return JoinResult{Err: kerr.InvalidSessionTimeout, MemberID: r.MemberID}, nil
	}
	if r.RebalanceTimeout <= 0 {
		r.RebalanceTimeout = r.SessionTimeout // JoinGroup v0
	}
	g := c.lock(r.Group, r.MemberID == "")
	if g == nil {
		return JoinResult{Err: kerr.UnknownMemberID, MemberID: r.MemberID}, nil
	}
	defer g.mu.Unlock()
	now := c.now()
	if g.state == Dead {
		return JoinResult{Err: kerr.CoordinatorNotAvailable, MemberID: r.MemberID}, nil
	}
	if g.cg != nil {
		// A consumer (KIP-848) group: only an empty one becomes a classic group.
		if len(g.cg.members) > 0 {
			return JoinResult{Err: kerr.InconsistentGroupProtocol, MemberID: r.MemberID}, nil
		}
		c.dropConsumer(g)
		c.cfg.Logger.Info("empty consumer group converted to a classic group", "group", g.name)
	}
	if !g.supportsProtocols(r.ProtocolType, r.Protocols, r.MemberID) {
		return JoinResult{Err: kerr.InconsistentGroupProtocol, MemberID: r.MemberID}, nil
	}
	if r.MemberID == "" {
		return c.joinUnknown(g, r, now)
	}
	if _, ok := g.pending[r.MemberID]; ok {
		delete(g.pending, r.MemberID)
		return c.addMember(g, r, r.MemberID, now)
	}
	if err := g.checkMember(r.MemberID, r.InstanceID); err != nil {
		return JoinResult{Err: err, MemberID: r.MemberID}, nil
	}
	m := g.members[r.MemberID]
	m.deadline = now.Add(m.session)
	switch g.state {
	case PreparingRebalance:
		c.updateMember(g, m, r)
		ch := m.waitJoin()
		c.tryCompleteJoin(g, now)
		return JoinResult{}, ch
	case CompletingRebalance, Stable:
		if sameProtocols(m.protocols, r.Protocols) && (g.state == CompletingRebalance || m.id != g.leader) {
			// A retry, or a follower without changes: the current generation stands.
			return g.joinResult(m, m.id == g.leader), nil
		}
		c.updateMember(g, m, r)
		ch := m.waitJoin()
		c.prepareRebalance(g, now)
		return JoinResult{}, ch
	}
	return JoinResult{Err: kerr.UnknownMemberID, MemberID: r.MemberID}, nil
}

func (m *member) waitJoin() <-chan JoinResult {
	if m.joinCh != nil { // a superseded join request of the same member
		m.answerJoin(JoinResult{Err: kerr.RebalanceInProgress, MemberID: m.id})
	}
	m.joinCh = make(chan JoinResult, 1)
	return m.joinCh
}

func (m *member) waitSync() <-chan SyncResult {
	if m.syncCh != nil {
		m.answerSync(SyncResult{Err: kerr.RebalanceInProgress})
	}
	m.syncCh = make(chan SyncResult, 1)
	return m.syncCh
}

// joinUnknown handles a join without a member id.
func (c *Coordinator) joinUnknown(g *Group, r JoinRequest, now time.Time) (JoinResult, <-chan JoinResult) {
	prefix := r.ClientID
	if r.InstanceID != "" {
		prefix = r.InstanceID
	}
	id := newMemberID(prefix)
	if r.InstanceID != "" {
		if old, ok := g.static[r.InstanceID]; ok && g.members[old] != nil {
			return c.replaceStatic(g, g.members[old], id, r, now)
		}
		return c.addMember(g, r, id, now)
	}
	if r.RequireKnownMember {
		if c.full(g) {
			return JoinResult{Err: kerr.GroupMaxSizeReached, MemberID: id}, nil
		}
		g.pending[id] = now.Add(r.SessionTimeout)
		return JoinResult{Err: kerr.MemberIDRequired, MemberID: id}, nil
	}
	return c.addMember(g, r, id, now)
}

func (c *Coordinator) full(g *Group) bool {
	return c.cfg.MaxSize > 0 && len(g.members)+len(g.pending) >= c.cfg.MaxSize
}

// addMember adds a new member and starts (or joins) a rebalance.
func (c *Coordinator) addMember(g *Group, r JoinRequest, id string, now time.Time) (JoinResult, <-chan JoinResult) {
	if c.cfg.MaxSize > 0 && len(g.members) >= c.cfg.MaxSize {
		return JoinResult{Err: kerr.GroupMaxSizeReached, MemberID: id}, nil
	}
	m := &member{id: id, instanceID: r.InstanceID, clientID: r.ClientID, clientHost: r.ClientHost,
		session: r.SessionTimeout, rebalance: r.RebalanceTimeout, deadline: now.Add(r.SessionTimeout)}
	c.updateMember(g, m, r)
	if len(g.members) == 0 {
		g.protocolType = r.ProtocolType
	}
	g.members[id] = m
	g.order = append(g.order, id)
	if r.InstanceID != "" {
		g.static[r.InstanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	ch := m.waitJoin()
	if g.state == PreparingRebalance && now.Before(g.delayUntil) {
		// Initial delay: every new member extends it, up to the rebalance timeout.
		g.delayUntil = minTime(now.Add(c.cfg.InitialRebalanceDelay), g.delayMax)
	}
	c.prepareRebalance(g, now)
	return JoinResult{}, ch
}

// replaceStatic gives a known static member a new member id. Kafka: in Stable, when the
// protocol the group would select is unchanged, the generation and assignment stand (no
// rebalance); otherwise a rebalance starts.
func (c *Coordinator) replaceStatic(g *Group, old *member, id string, r JoinRequest, now time.Time) (JoinResult, <-chan JoinResult) {
	old.answerJoin(JoinResult{Err: kerr.FencedInstanceID, MemberID: old.id})
	old.answerSync(SyncResult{Err: kerr.FencedInstanceID})
	m := &member{id: id, instanceID: r.InstanceID, clientID: r.ClientID, clientHost: r.ClientHost,
		session: r.SessionTimeout, rebalance: r.RebalanceTimeout, deadline: now.Add(r.SessionTimeout),
		protocolType: old.protocolType, protocols: old.protocols, assignment: old.assignment}
	delete(g.members, old.id)
	g.members[id] = m
	for i, x := range g.order {
		if x == old.id {
			g.order[i] = id
		}
	}
	g.static[r.InstanceID] = id
	wasLeader := g.leader == old.id
	if wasLeader {
		g.leader = id
	}
	switch g.state {
	case Stable:
		c.updateMember(g, m, r)
		if g.selectProtocol() == g.protocol {
			c.persist(g, now)
			res := g.joinResult(m, wasLeader)
			res.SkipAssignment = wasLeader
			return res, nil
		}
		ch := m.waitJoin()
		c.prepareRebalance(g, now)
		return JoinResult{}, ch
	case CompletingRebalance:
		c.updateMember(g, m, r)
		ch := m.waitJoin()
		c.prepareRebalance(g, now)
		return JoinResult{}, ch
	default: // PreparingRebalance
		c.updateMember(g, m, r)
		ch := m.waitJoin()
		c.tryCompleteJoin(g, now)
		return JoinResult{}, ch
	}
}

func (c *Coordinator) updateMember(g *Group, m *member, r JoinRequest) {
	m.protocolType = r.ProtocolType
	m.protocols = append([]Protocol(nil), r.Protocols...)
	m.session, m.rebalance = r.SessionTimeout, r.RebalanceTimeout
	if r.ClientID != "" {
		m.clientID, m.clientHost = r.ClientID, r.ClientHost
	}
}

// joinResult is the answer for the current generation; the leader gets the members.
func (g *Group) joinResult(m *member, withMembers bool) JoinResult {
	res := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType,
		Protocol: g.protocol, LeaderID: g.leader}
	if withMembers {
		for _, id := range g.order {
			o := g.members[id]
			res.Members = append(res.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadataFor(g.protocol)})
		}
	}
	return res
}

// checkMember validates a member id (and instance id) of a live member.
func (g *Group) checkMember(memberID, instanceID string) error {
	if instanceID != "" {
		if cur, ok := g.static[instanceID]; ok && cur != memberID {
			return kerr.FencedInstanceID
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// prepareRebalance moves the group to PreparingRebalance (or keeps it there).
func (c *Coordinator) prepareRebalance(g *Group, now time.Time) {
	if g.state == CompletingRebalance || g.state == Stable {
		for _, m := range g.members {
			m.answerSync(SyncResult{Err: kerr.RebalanceInProgress})
		}
	}
	if g.state != PreparingRebalance {
		var maxRebalance time.Duration
		for _, m := range g.members {
			maxRebalance = max(maxRebalance, m.rebalance)
		}
		if g.state == Empty && c.cfg.InitialRebalanceDelay > 0 {
			g.delayUntil = now.Add(min(c.cfg.InitialRebalanceDelay, maxRebalance))
			g.delayMax = now.Add(maxRebalance)
		} else {
			g.delayUntil = time.Time{}
		}
		g.joinDeadline = now.Add(maxRebalance)
		g.setState(PreparingRebalance, now)
	}
	c.tryCompleteJoin(g, now)
}

// tryCompleteJoin ends the join phase when everyone has rejoined (after any initial
// delay) or the rebalance timeout has passed.
func (c *Coordinator) tryCompleteJoin(g *Group, now time.Time) {
	if g.state != PreparingRebalance {
		return
	}
	all := len(g.pending) == 0
	for _, m := range g.members {
		if m.joinCh == nil {
			all = false
		}
	}
	if !(all && !now.Before(g.delayUntil)) && now.Before(g.joinDeadline) {
		return
	}
	for _, id := range append([]string(nil), g.order...) {
		if m := g.members[id]; m.joinCh == nil {
			g.remove(m)
		}
	}
	if len(g.members) == 0 {
		c.becomeEmpty(g, now)
		return
	}
	g.generation++
	if g.members[g.leader] == nil {
		g.leader = g.order[0]
	}
	g.protocol = g.selectProtocol()
	g.setState(CompletingRebalance, now)
	var maxRebalance time.Duration
	for _, m := range g.members {
		maxRebalance = max(maxRebalance, m.rebalance)
		m.assignment = nil
	}
	g.syncDeadline = now.Add(maxRebalance)
	for _, id := range g.order {
		m := g.members[id]
		m.deadline = now.Add(m.session)
		m.answerJoin(g.joinResult(m, id == g.leader))
	}
}

// becomeEmpty ends the generation of a group whose last member left. The protocol type
// stays: Kafka lists an empty group with it.
func (c *Coordinator) becomeEmpty(g *Group, now time.Time) {
	g.generation++
	g.protocol, g.leader = "", ""
	g.setState(Empty, now)
	c.persist(g, now)
}

// remove drops a member (answering its waiting calls with UNKNOWN_MEMBER_ID).
func (g *Group) remove(m *member) {
	m.answerJoin(JoinResult{Err: kerr.UnknownMemberID, MemberID: m.id})
	m.answerSync(SyncResult{Err: kerr.UnknownMemberID})
	delete(g.members, m.id)
	for i, x := range g.order {
		if x == m.id {
			g.order = append(g.order[:i], g.order[i+1:]...)
			break
		}
	}
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

// expire enforces the deadlines of one group (called by the sweeper).
func (c *Coordinator) expire(g *Group, now time.Time) {
	for id, d := range g.pending {
		if now.After(d) {
			delete(g.pending, id)
		}
	}
	changed := false
	for _, id := range append([]string(nil), g.order...) {
		m := g.members[id]
		if m.joinCh != nil || m.syncCh != nil || now.Before(m.deadline) {
			continue
		}
		g.remove(m)
		changed = true
	}
	if g.state == CompletingRebalance && now.After(g.syncDeadline) {
		// The leader never sent its assignment: members that did not sync go.
		for _, id := range append([]string(nil), g.order...) {
			if m := g.members[id]; m.syncCh == nil {
				g.remove(m)
			}
		}
		changed = true
	}
	switch {
	case g.state == PreparingRebalance:
		c.tryCompleteJoin(g, now)
	case changed && len(g.members) == 0:
		c.becomeEmpty(g, now)
	case changed && (g.state == Stable || g.state == CompletingRebalance):
		c.prepareRebalance(g, now)
	}
}

// Sync handles a SyncGroup. assignments (leader only) maps member id → assignment.
func (c *Coordinator) Sync(group string, gen int32, memberID, instanceID, ptype, proto string, assignments map[string][]byte) (SyncResult, <-chan SyncResult) {
	g := c.lock(group, false)
	if g == nil {
		return SyncResult{Err: kerr.UnknownMemberID}, nil
	}
	defer g.mu.Unlock()
	if g.state == Dead {
		return SyncResult{Err: kerr.CoordinatorNotAvailable}, nil
	}
	if err := g.checkMember(memberID, instanceID); err != nil {
		return SyncResult{Err: err}, nil
	}
	if gen != g.generation {
		return SyncResult{Err: kerr.IllegalGeneration}, nil
	}
	if (ptype != "" && ptype != g.protocolType) || (proto != "" && proto != g.protocol) {
		return SyncResult{Err: kerr.InconsistentGroupProtocol}, nil
	}
	now := c.now()
	m := g.members[memberID]
	m.deadline = now.Add(m.session)
	switch g.state {
	case PreparingRebalance:
		return SyncResult{Err: kerr.RebalanceInProgress}, nil
	case Stable:
		return SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}, nil
	case CompletingRebalance:
		ch := m.waitSync()
		if memberID == g.leader {
			c.assignAtSync(g, assignments)
			g.setState(Stable, now)
			for _, o := range g.members {
				o.deadline = now.Add(o.session)
				o.answerSync(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: o.assignment})
			}
			c.persist(g, now)
		}
		return SyncResult{}, ch
	}
	return SyncResult{Err: kerr.UnknownMemberID}, nil
}

// Heartbeat handles a Heartbeat.
func (c *Coordinator) Heartbeat(group string, gen int32, memberID, instanceID string) error {
	g := c.lock(group, false)
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.checkMember(memberID, instanceID); err != nil {
		return err
	}
	if gen != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[memberID]
	m.deadline = c.now().Add(m.session)
	if g.state == PreparingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// Leaver is one member of a LeaveGroup (by member id, or by instance id from v3).
type Leaver struct{ MemberID, InstanceID string }

// Leave removes members; errs[i] is the outcome for leavers[i].
func (c *Coordinator) Leave(group string, leavers []Leaver) []error {
	errs := make([]error, len(leavers))
	g := c.lock(group, false)
	if g == nil {
		for i := range errs {
			errs[i] = kerr.UnknownMemberID
		}
		return errs
	}
	defer g.mu.Unlock()
	now := c.now()
	removed := false
	for i, l := range leavers {
		id := l.MemberID
		if l.InstanceID != "" {
			cur, ok := g.static[l.InstanceID]
			switch {
			case !ok:
				errs[i] = kerr.UnknownMemberID
				continue
			case id != "" && id != cur:
				errs[i] = kerr.FencedInstanceID
				continue
			}
			id = cur
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			removed = true
			continue
		}
		m := g.members[id]
		if m == nil {
			errs[i] = kerr.UnknownMemberID
			continue
		}
		g.remove(m)
		removed = true
	}
	if !removed {
		return errs
	}
	switch g.state {
	case PreparingRebalance:
		c.tryCompleteJoin(g, now)
	case CompletingRebalance, Stable:
		if len(g.members) == 0 {
			c.becomeEmpty(g, now)
		} else {
			c.prepareRebalance(g, now)
		}
	}
	return errs
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
