package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAdminURL is the streamd admin listener the CLI asks by default.
const DefaultAdminURL = "http://127.0.0.1:9644"

// adminPartition is one partition of the streamd admin API's
// GET /v1/topics/{name} answer (see core/broker/admin_topics.go).
type adminPartition struct {
	Partition      int32    `json:"partition"`
	Segments       int      `json:"segments"`
	DirtyRatio     *float64 `json:"dirty_ratio"`
	LastCleaned    *string  `json:"last_cleaned"`
	BytesReclaimed int64    `json:"bytes_reclaimed"`
}

// fetchAdminTopic asks a streamd admin listener for topic's per-partition
// storage stats.
func fetchAdminTopic(ctx context.Context, adminURL, topic string, timeout time.Duration) (map[int32]adminPartition, error) {
	var out struct {
		Partitions []adminPartition `json:"partitions"`
	}
	if err := adminGet(ctx, adminURL, "/v1/topics/"+url.PathEscape(topic), timeout, &out); err != nil {
		return nil, err
	}
	m := make(map[int32]adminPartition, len(out.Partitions))
	for _, p := range out.Partitions {
		m[p.Partition] = p
	}
	return m, nil
}

// adminGet decodes the JSON answer of GET adminURL+path into out.
func adminGet(ctx context.Context, adminURL, path string, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(adminURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("admin endpoint %s: %v", adminURL, err)
	}
	resp, body, err := adminSend(req, 16<<20)
	if err != nil {
		return fmt.Errorf("admin endpoint %s: %v", adminURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin endpoint %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("admin endpoint %s: %v", u, err)
	}
	return nil
}

// adminSend sends req to a streamd admin listener on a one-shot transport (no idle
// connection, or its goroutines, outlives the call) and reads at most limit bytes of the
// answer. When no answer came, resp is nil and err is the cause inside the *url.Error
// (which would repeat the method and URL); when the answer could not be read, resp is
// the answer and err why.
func adminSend(req *http.Request, limit int64) (resp *http.Response, body []byte, err error) {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}
	defer tr.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp, body, err
}

// adminCells renders the SEGMENTS, DIRTY, LAST-CLEANED and RECLAIMED cells
// (each preceded by a tab) of partition p; "-" for what is unknown.
func adminCells(stats map[int32]adminPartition, p int32) string {
	s, ok := stats[p]
	if !ok {
		return "\t-\t-\t-\t-"
	}
	dirty, last := "-", "-"
	if s.DirtyRatio != nil {
		dirty = strconv.FormatFloat(*s.DirtyRatio, 'f', 2, 64)
	}
	if s.LastCleaned != nil {
		last = *s.LastCleaned
	}
	return fmt.Sprintf("\t%d\t%s\t%s\t%d", s.Segments, dirty, last, s.BytesReclaimed)
}
