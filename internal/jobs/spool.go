package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/diskfile"
)

// A spool keeps the job starts the database could not take, on the local
// disk, until it can. Each start is one small file named after its service
// and provider id: writing one is a new file made durable (written to a
// temporary name, synced, renamed, the directory synced), and forgetting
// one is a removal. Nothing is ever rewritten in place, so that a crash
// leaves each start either whole or absent, and two processes sharing the
// directory can never clobber each other's starts. Replaying a start is
// CreateJob with the job's own ids: one the database already holds is
// aiproxy.ErrConflict, so that a replay repeated after a crash records
// nothing twice.
type spool struct{ dir string }

// spoolEntry is a job start waiting for the database: the job, its
// creation event, and the idempotency record to complete with them.
type spoolEntry struct {
	job   aiproxy.Job
	event aiproxy.JobEvent
	idem  *aiproxy.IdempotencyRecord
}

// key names an entry by what the database keeps unique: the service and
// the provider's job id.
func (e spoolEntry) key() string {
	sum := sha256.Sum256([]byte(e.job.Service + "\x00" + e.job.ProviderJobID))
	return hex.EncodeToString(sum[:20])
}

// spoolExt ends the name of every entry's file; temporary files start
// with diskfile.TempPrefix.
const spoolExt = ".job.json"

// put writes an entry durably.
func (s spool) put(e spoolEntry) error {
	if s.dir == "" {
		return errors.New("no spool directory")
	}
	data, err := json.Marshal(toSpoolFile(e))
	if err != nil {
		return err
	}
	return diskfile.Write(s.dir, e.key()+spoolExt, append(data, '\n'))
}

// remove forgets an entry. A removal lost in a crash only means one more
// replay, which finds the job recorded.
func (s spool) remove(e spoolEntry) error {
	if s.dir == "" {
		return nil
	}
	err := os.Remove(filepath.Join(s.dir, e.key()+spoolExt))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// load reads every entry in the directory, oldest start first. A file
// that cannot be read is reported and left where it is, for an operator;
// temporary files of an interrupted write are removed.
func (s spool) load() ([]spoolEntry, []error) {
	if s.dir == "" {
		return nil, nil
	}
	names, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	var (
		entries []spoolEntry
		errs    []error
	)
	for _, d := range names {
		path := filepath.Join(s.dir, d.Name())
		switch {
		case diskfile.IsTemp(d.Name()):
			_ = os.Remove(path)
			continue
		case !strings.HasSuffix(d.Name(), spoolExt):
			continue
		}
		e, err := readSpoolFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, e)
	}
	return entries, errs
}

func readSpoolFile(path string) (spoolEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return spoolEntry{}, err
	}
	var f spoolFile
	if err := json.Unmarshal(data, &f); err != nil {
		return spoolEntry{}, fmt.Errorf("spooled job start %s: %w", path, err)
	}
	if f.Version != spoolVersion || f.Job.ID == "" || f.Job.ProviderJobID == "" {
		return spoolEntry{}, fmt.Errorf("spooled job start %s: not a version %d job start", path, spoolVersion)
	}
	return f.entry(), nil
}

// spoolVersion is the format of the spool's files.
const spoolVersion = 1

// spoolFile is a spooled job start as its file holds it: its own JSON
// names, so that the file does not change when the domain's types do.
type spoolFile struct {
	Version int        `json:"version"`
	Job     spoolJob   `json:"job"`
	Event   spoolEvent `json:"event"`
	Idem    *spoolIdem `json:"idempotency,omitempty"`
}

// spoolJob is a job as the spool keeps it. Files spooled before key pools
// have no credential_key_id: their jobs read with the credential as a
// whole, as they were started.
type spoolJob struct {
	ID              string            `json:"id"`
	Org             string            `json:"org"`
	User            string            `json:"user,omitempty"`
	KeyID           string            `json:"key_id,omitempty"`
	Service         string            `json:"service"`
	Action          string            `json:"action"`
	StatusAction    string            `json:"status_action"`
	ProviderJobID   string            `json:"provider_job_id"`
	Source          string            `json:"source"`
	CredentialOrg   string            `json:"credential_org,omitempty"`
	CredentialName  string            `json:"credential_name"`
	CredentialKeyID string            `json:"credential_key_id,omitempty"`
	State           string            `json:"state"`
	ProviderStatus  string            `json:"provider_status,omitempty"`
	ResultURLs      map[string]string `json:"result_urls,omitempty"`
	Error           string            `json:"error,omitempty"`
	StatusBody      []byte            `json:"status_body,omitempty"`
	CallbackID      string            `json:"callback_id,omitempty"`
	IdempotencyKey  string            `json:"idempotency_key,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	CompletedAt     time.Time         `json:"completed_at"`
	CheckedAt       time.Time         `json:"checked_at"`
	NextCheckAt     time.Time         `json:"next_check_at"`
	DeadlineAt      time.Time         `json:"deadline_at"`
	URLsExpireAt    time.Time         `json:"urls_expire_at"`
	Attempts        int               `json:"attempts,omitempty"`
	// Details is absent from files spooled before job details.
	Details *spoolDetails `json:"details,omitempty"`
}

// spoolDetails is a job's details as the spool keeps them.
type spoolDetails struct {
	Title           string  `json:"title,omitempty"`
	Script          string  `json:"script,omitempty"`
	AvatarID        string  `json:"avatar_id,omitempty"`
	VoiceID         string  `json:"voice_id,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	ThumbnailURL    string  `json:"thumbnail_url,omitempty"`
}

type spoolEvent struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	JobID     string    `json:"job_id"`
	Type      string    `json:"type"`
	Data      []byte    `json:"data"`
	CreatedAt time.Time `json:"created_at"`
}

type spoolIdem struct {
	Org         string    `json:"org"`
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"`
	Status      int       `json:"status"`
	ContentType string    `json:"content_type,omitempty"`
	Body        []byte    `json:"body"`
	JobID       string    `json:"job_id"`
	CreatedAt   time.Time `json:"created_at"`
	LockedUntil time.Time `json:"locked_until"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func toSpoolFile(e spoolEntry) spoolFile {
	j, ev := e.job, e.event
	f := spoolFile{Version: spoolVersion,
		Job: spoolJob{ID: j.ID, Org: j.OrgKey, User: j.User, KeyID: j.KeyID, Service: j.Service, Action: j.Action, StatusAction: j.StatusAction,
			ProviderJobID: j.ProviderJobID, Source: string(j.Source), CredentialOrg: j.CredentialOrg,
			CredentialName: j.CredentialName, CredentialKeyID: j.CredentialKeyID, State: string(j.State), ProviderStatus: j.ProviderStatus,
			ResultURLs: j.ResultURLs, Error: j.Error, StatusBody: j.StatusBody, CallbackID: j.CallbackID,
			IdempotencyKey: j.IdempotencyKey, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
			CompletedAt: j.CompletedAt, CheckedAt: j.CheckedAt, NextCheckAt: j.NextCheckAt,
			DeadlineAt: j.DeadlineAt, URLsExpireAt: j.URLsExpireAt, Attempts: j.Attempts,
			Details: &spoolDetails{Title: j.Details.Title, Script: j.Details.Script, AvatarID: j.Details.AvatarID,
				VoiceID: j.Details.VoiceID, DurationSeconds: j.Details.DurationSeconds, ThumbnailURL: j.Details.ThumbnailURL}},
		Event: spoolEvent{ID: ev.ID, Org: ev.OrgKey, JobID: ev.JobID, Type: ev.Type, Data: ev.Data, CreatedAt: ev.CreatedAt},
	}
	if r := e.idem; r != nil {
		f.Idem = &spoolIdem{Org: r.OrgKey, Key: r.Key, Fingerprint: r.Fingerprint, State: r.State, Status: r.Status,
			ContentType: r.ContentType, Body: r.Body, JobID: r.JobID, CreatedAt: r.CreatedAt,
			LockedUntil: r.LockedUntil, ExpiresAt: r.ExpiresAt}
	}
	return f
}

func (f spoolFile) entry() spoolEntry {
	j, ev := f.Job, f.Event
	e := spoolEntry{
		job: aiproxy.Job{ID: j.ID, OrgKey: j.Org, User: j.User, KeyID: j.KeyID, Service: j.Service, Action: j.Action, StatusAction: j.StatusAction,
			ProviderJobID: j.ProviderJobID, Source: aiproxy.Source(j.Source), CredentialOrg: j.CredentialOrg,
			CredentialName: j.CredentialName, CredentialKeyID: j.CredentialKeyID, State: aiproxy.JobState(j.State), ProviderStatus: j.ProviderStatus,
			ResultURLs: j.ResultURLs, Error: j.Error, StatusBody: j.StatusBody, CallbackID: j.CallbackID,
			IdempotencyKey: j.IdempotencyKey, CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(),
			CompletedAt: j.CompletedAt.UTC(), CheckedAt: j.CheckedAt.UTC(), NextCheckAt: j.NextCheckAt.UTC(),
			DeadlineAt: j.DeadlineAt.UTC(), URLsExpireAt: j.URLsExpireAt.UTC(), Attempts: j.Attempts},
		event: aiproxy.JobEvent{ID: ev.ID, OrgKey: ev.Org, JobID: ev.JobID, Type: ev.Type, Data: ev.Data, CreatedAt: ev.CreatedAt.UTC()},
	}
	if e.job.ResultURLs == nil {
		e.job.ResultURLs = map[string]string{}
	}
	if d := j.Details; d != nil {
		e.job.Details = aiproxy.JobDetails{Title: d.Title, Script: d.Script, AvatarID: d.AvatarID, VoiceID: d.VoiceID,
			DurationSeconds: d.DurationSeconds, ThumbnailURL: d.ThumbnailURL}
	}
	if r := f.Idem; r != nil {
		e.idem = &aiproxy.IdempotencyRecord{OrgKey: r.Org, Key: r.Key, Fingerprint: r.Fingerprint, State: r.State,
			Status: r.Status, ContentType: r.ContentType, Body: r.Body, JobID: r.JobID, CreatedAt: r.CreatedAt.UTC(),
			LockedUntil: r.LockedUntil.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	}
	return e
}
