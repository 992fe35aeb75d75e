// Package assignor holds Kafka's consumer-group assignment strategies as pure,
// deterministic functions from a GroupSpec (members with their subscriptions and owned
// partitions, plus topic partition counts) to an Assignment (member id → sorted partitions).
// It depends on the standard library only; the coordinator runs these server-side and the
// Wasm adapter for uploaded assignors implements the same Assignor interface.
//
// # Strategies
//
//	name                 constructor          Kafka counterpart
//	range                Range()              RangeAssignor
//	roundrobin           RoundRobin()         RoundRobinAssignor
//	sticky               Sticky()             StickyAssignor (KIP-54)
//	cooperative-sticky   CooperativeSticky()  CooperativeStickyAssignor (KIP-429)
//	uniform              Uniform()            server-side UniformAssignor (KIP-848)
//
// Member order, wherever an order matters, is Kafka's: static members (InstanceID set)
// first, by instance id, then dynamic members by member id. Topics that do not exist
// (absent from GroupSpec.Partitions or with a count ≤ 0) are ignored. Racks are ignored by
// every strategy (no rack-aware preference is implemented).
//
// # Sticky, Uniform and CooperativeSticky
//
// All three share one core. Claims in Owned are first resolved: a claim counts only if the
// partition exists and the member subscribes to its topic; a partition claimed by several
// members belongs to the one with the highest Generation (ties: the earlier member in
// member order). Then:
//
//   - Identical subscriptions (every member with a non-empty subscription subscribes to the
//     same existing topics): with P partitions and M members, each member gets P/M and P%M
//     of them one more. Members keep their owned partitions up to that quota (the first
//     ones in member order that own more than P/M keep P/M+1 while such slots remain); the
//     rest is dealt round-robin in (topic, partition) order to members below P/M, then one
//     each to members at P/M. A balanced previous assignment is therefore kept unchanged,
//     and a fresh one matches Kafka's documented example. O(P + M log M).
//   - Differing subscriptions: every owned partition is kept, free partitions go to their
//     least-loaded subscriber, then partitions are moved along shortest cost-reducing paths
//     until none is left (see general.go). The result minimizes the sum of squared member
//     loads, so it is as balanced as the subscriptions allow; members with identical
//     subscriptions end within one partition of each other.
//
// Sticky and Uniform are the same algorithm under two names. Differences from Kafka's
// UniformAssignor that are not implemented: rack awareness, and the per-topic handling of
// its heterogeneous builder (ours balances total partition counts per member, not per topic).
// Uniform honors Generation like Sticky; the KIP-848 coordinator's current assignment never
// has conflicting claims, so it makes no difference there.
//
// CooperativeSticky is two-phase. Phase one returns the Sticky target minus every partition
// that the target gives to a member other than its current owner while some member (the
// owner, or any member with an invalid or losing claim) still lists it in Owned: such a
// partition is in nobody's list, which tells its holders to revoke it. They rejoin without
// it and the follow-up rebalance (phase two) assigns it. A partition never changes hands
// within one round, and phase-one output fails Validate only with ErrUnassigned. With
// identical subscriptions the follow-up round completes the assignment without revoking
// anything; with differing subscriptions the follow-up may itself rebalance a little more
// (the randomized tests see at most three follow-ups before the assignment is complete).
//
// # Validation
//
// Validate is the check applied to any assignor's output, built-in or plugin: members
// exist, partitions exist and are assigned at most once and only to subscribers, and every
// subscribed partition is assigned (ErrUnassigned when only that fails).
package assignor
