package usage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/diskfile"
)

// A spool keeps the usage records the store did not take, on the local
// disk, in files of at most spillChunk records, one JSON record a line.
// A file is made durable before it counts (written to a temporary name,
// synced, renamed, the directory synced), written to the store in one
// AppendUsage (one transaction), and removed once the store took it;
// nothing is rewritten in place. Files are named by the time they were
// made, so that the oldest records are written first.
//
// A spooled file is written exactly once as long as the store's answer is
// known: a process that dies after the store took a file and before the
// file's removal (a window of one unlink), or a store whose commit
// succeeds while its answer is lost (a connection cut during COMMIT),
// writes that file again. The log has no record ids that a store could
// refuse a second time.
type spool struct {
	dir string
	seq atomic.Int64
}

// spillChunk is the most records in one spool file.
const spillChunk = 4096

const (
	spoolPrefix = "usage-"
	spoolExt    = ".jsonl"
)

// spoolFile is one file of the spool and how many records it holds.
type spoolFile struct {
	name string
	n    int
}

// put writes records to a new file, durably.
func (s *spool) put(recs []aiproxy.UsageRecord) (spoolFile, error) {
	if s.dir == "" {
		return spoolFile{}, errors.New("no spool directory")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(toSpoolRecord(r)); err != nil {
			return spoolFile{}, err
		}
	}
	name := fmt.Sprintf("%s%020d-%06d%s", spoolPrefix, time.Now().UnixNano(), s.seq.Add(1)%1e6, spoolExt)
	if err := diskfile.Write(s.dir, name, buf.Bytes()); err != nil {
		return spoolFile{}, err
	}
	return spoolFile{name: name, n: len(recs)}, nil
}

// read returns the records of a file.
func (s *spool) read(name string) ([]aiproxy.UsageRecord, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []aiproxy.UsageRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r spoolRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("spooled usage %s line %d: %w", name, line, err)
		}
		recs = append(recs, r.record())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("spooled usage %s: %w", name, err)
	}
	return recs, nil
}

// remove forgets a file the store took.
func (s *spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// list returns the spool's files, oldest first, with their record
// counts. A file that cannot be read is reported and left in place, for
// an operator; temporary files of an interrupted write are removed.
func (s *spool) list() ([]spoolFile, []error) {
	if s.dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	var (
		files []spoolFile
		errs  []error
	)
	for _, d := range entries {
		name := d.Name()
		switch {
		case diskfile.IsTemp(name):
			_ = os.Remove(filepath.Join(s.dir, name))
			continue
		case !strings.HasPrefix(name, spoolPrefix) || !strings.HasSuffix(name, spoolExt):
			continue
		}
		recs, err := s.read(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, spoolFile{name: name, n: len(recs)})
	}
	slices.SortFunc(files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	return files, errs
}

// spoolRecord is a usage record as a spool file holds it: its own JSON
// names, so that the file does not change when the domain's type does.
type spoolRecord struct {
	At             time.Time `json:"at"`
	Org            string    `json:"org"`
	KeyID          string    `json:"key_id,omitempty"`
	UserID         string    `json:"user_id,omitempty"`
	Service        string    `json:"service"`
	Action         string    `json:"action"`
	Status         int       `json:"status"`
	ErrorCode      string    `json:"error_code,omitempty"`
	UpstreamStatus int       `json:"upstream_status,omitempty"`
	LatencyMS      int64     `json:"latency_ms"`
	BytesOut       int64     `json:"bytes_out"`
	Unit           string    `json:"unit,omitempty"`
	Units          int64     `json:"units,omitempty"`
	Cache          string    `json:"cache,omitempty"`
	Source         string    `json:"source,omitempty"`
	CostMicros     int64     `json:"cost_micros,omitempty"`
	SavedMicros    int64     `json:"saved_micros,omitempty"`
	RequestID      string    `json:"request_id,omitempty"`
	ErrorDetail    string    `json:"error_detail,omitempty"`
}

func toSpoolRecord(r aiproxy.UsageRecord) spoolRecord {
	return spoolRecord{At: r.At, Org: r.OrgKey, KeyID: r.KeyID, UserID: r.UserID, Service: r.Service, Action: r.Action,
		Status: r.Status, ErrorCode: string(r.ErrorCode), UpstreamStatus: r.UpstreamStatus, LatencyMS: r.LatencyMS,
		BytesOut: r.BytesOut, Unit: string(r.Unit), Units: r.Units, Cache: r.Cache, Source: string(r.Source),
		CostMicros: r.CostMicros, SavedMicros: r.SavedMicros, RequestID: r.RequestID, ErrorDetail: r.ErrorDetail}
}

func (r spoolRecord) record() aiproxy.UsageRecord {
	return aiproxy.UsageRecord{At: r.At.UTC(), OrgKey: r.Org, KeyID: r.KeyID, UserID: r.UserID, Service: r.Service, Action: r.Action,
		Status: r.Status, ErrorCode: aiproxy.Code(r.ErrorCode), UpstreamStatus: r.UpstreamStatus,
		LatencyMS: r.LatencyMS, BytesOut: r.BytesOut, Unit: aiproxy.Metric(r.Unit), Units: r.Units,
		Cache: r.Cache, Source: aiproxy.Source(r.Source), CostMicros: r.CostMicros, SavedMicros: r.SavedMicros,
		RequestID: r.RequestID, ErrorDetail: r.ErrorDetail}
}
