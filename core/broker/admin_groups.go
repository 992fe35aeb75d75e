package broker

// GET /v1/groups/{name} answers what the Kafka protocol cannot say about a group:
//
//	{"group": "billing", "type": "classic", "state": "Stable", "assignor": "wasm:weighted",
//	 "assigned_by": "wasm:weighted", "assign_error": ""}
//
// type is "classic" or "consumer" (KIP-848); assignor is the group's group.assignor
// ("" = unset: the leader member of a classic group assigns, the members of a consumer
// group choose the server assignor); assigned_by is the strategy that computed the
// current assignment: the broker-owned one of a Stable classic group ("" when its leader
// member assigned, or while it rebalances), the server assignor of a consumer group's
// target assignment; assign_error says why the last broker-side assignment was refused
// (the members then kept their previous assignment), "" if it was not.
// An unknown group answers 404, a broker shutting down 503, both with {"error": "..."}.

import (
	"net/http"

	"github.com/streamd/streamd/core/group"
)

type adminGroup struct {
	Group       string `json:"group"`
	Type        string `json:"type"`
	State       string `json:"state"`
	Assignor    string `json:"assignor"`
	AssignedBy  string `json:"assigned_by"`
	AssignError string `json:"assign_error"`
}

// handleAdminGroup serves GET /v1/groups/{name}.
func (b *Broker) handleAdminGroup(w http.ResponseWriter, r *http.Request) {
	if !b.adminOpen(w) {
		return
	}
	name := r.PathValue("name")
	a := b.groups.Assignor(name)
	if d := b.groups.ConsumerDescribe(name); d.Err == nil {
		adminJSON(w, http.StatusOK, adminGroup{Group: name, Type: "consumer", State: d.State, Assignor: a, AssignedBy: d.Assignor,
			AssignError: d.AssignError})
		return
	}
	d := b.groups.Describe(name)
	if d.State == group.Dead && a == "" {
		adminError(w, http.StatusNotFound, "group "+name+" does not exist")
		return
	}
	adminJSON(w, http.StatusOK, adminGroup{Group: name, Type: "classic", State: d.State.String(), Assignor: a,
		AssignedBy: d.AssignedBy, AssignError: d.AssignError})
}
