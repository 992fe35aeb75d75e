package broker

import (
	"encoding/json"
	"net/http"

	"github.com/streamd/streamd/core/group"
)

// GET /v1/groups/{name} answers 200 with
//
//	{"group": "billing", "type": "classic", "state": "Stable", "assigned_by": "range"}
//
// type is "classic" or "consumer" (KIP-848); assigned_by is the strategy that computed
// the current assignment: the broker-owned one (group.assignor) of a Stable classic group,
// "" when its leader member assigned (or while it rebalances); the server assignor of a
// consumer group's target assignment. An unknown group answers 404, a broker shutting
// down 503, both with {"error": "..."}.

type adminGroup struct {
	Group      string `json:"group"`
	Type       string `json:"type"`
	State      string `json:"state"`
	AssignedBy string `json:"assigned_by"`
}

// handleAdminGroup serves GET /v1/groups/{name}.
func (b *Broker) handleAdminGroup(w http.ResponseWriter, r *http.Request) {
	if err := b.checkOpen(); err != nil {
		adminError(w, http.StatusServiceUnavailable, "broker is shutting down")
		return
	}
	name := r.PathValue("name")
	if d := b.groups.ConsumerDescribe(name); d.Err == nil {
		adminJSON(w, adminGroup{Group: name, Type: "consumer", State: d.State, AssignedBy: d.Assignor})
		return
	}
	d := b.groups.Describe(name)
	if d.State == group.Dead {
		adminError(w, http.StatusNotFound, "group "+name+" does not exist")
		return
	}
	adminJSON(w, adminGroup{Group: name, Type: "classic", State: d.State.String(), AssignedBy: d.AssignedBy})
}

func adminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
