package broker

// GET /v1/groups/{name} answers what the Kafka protocol cannot say about a group:
//
//	{"group": "billing", "state": "Stable", "assignor": "wasm:weighted",
//	 "assigned_by": "wasm:weighted", "assign_error": ""}
//
// assignor is the group's group.assignor ("" = the leader member assigns); assigned_by
// the strategy that produced the current assignment; assign_error why the last
// broker-side assignment was refused (the members then kept their previous assignment),
// "" if it was not. An unknown group answers 404 {"error": "..."}.

import "net/http"

type adminGroup struct {
	Group       string `json:"group"`
	State       string `json:"state"`
	Assignor    string `json:"assignor"`
	AssignedBy  string `json:"assigned_by"`
	AssignError string `json:"assign_error"`
}

func (b *Broker) handleAdminGroup(w http.ResponseWriter, r *http.Request) {
	if b.checkOpen() != nil {
		adminError(w, http.StatusServiceUnavailable, "broker is shutting down")
		return
	}
	name := r.PathValue("name")
	d := b.groups.Describe(name)
	a := b.groups.Assignor(name)
	if d.State.String() == "Dead" && a == "" {
		adminError(w, http.StatusNotFound, "group "+name+" does not exist")
		return
	}
	adminJSON(w, http.StatusOK, adminGroup{Group: name, State: d.State.String(), Assignor: a,
		AssignedBy: d.AssignedBy, AssignError: d.AssignError})
}
