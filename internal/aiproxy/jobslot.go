package aiproxy

import (
	"context"
	"time"
)

// JobCapScope says whose running jobs a JobCap counts together.
type JobCapScope string

// The scopes: the jobs of one org (whatever credential started them), or
// the jobs started with the platform's credential of a service, by every
// org that falls back to it.
const (
	JobCapOrg        JobCapScope = "org"
	JobCapCredential JobCapScope = "credential"
)

// JobCap caps the provider jobs of one scope that are running: started and
// not yet completed or failed. Service "" applies the cap to every service;
// an org cap then counts the org's jobs of all services together, and a
// credential cap counts each service's platform credential on its own. A
// credential cap is shared fairly among the orgs using the credential, by
// Shares' rule, so that one org's renders never starve the others.
type JobCap struct {
	Scope   JobCapScope
	Service string
	Max     int
	// Shares weighs the orgs of a credential cap; nil weighs each org 1.
	Shares *Shares
}

// Applies reports whether the cap counts a job of a service started with a
// credential source.
func (c JobCap) Applies(service string, src Source) bool {
	if c.Service != "" && c.Service != service {
		return false
	}
	return c.Scope == JobCapOrg || src == SourcePlatform
}

// JobSlot holds room under the running-job caps for one job start while its
// provider call is in flight, before the job exists. It is released once
// the job is stored (the job then counts itself) or the start fails, and
// stops counting at ExpiresAt, in case its holder died.
type JobSlot struct {
	ID        string
	OrgKey    string
	Service   string
	Source    Source
	ExpiresAt time.Time
}

// JobSlotStore claims and releases JobSlots.
type JobSlotStore interface {
	// ClaimJobSlot stores s unless one of the caps that apply to it is
	// full: its running jobs plus its unexpired slots at now already reach
	// Max, or, for a credential cap, Shares.Grant refuses s's org given
	// what each org runs. Then it stores nothing and returns that cap. The count and the
	// insert are one transaction that racing claims (from any replica)
	// cannot interleave, so a cap is never passed.
	ClaimJobSlot(ctx context.Context, s JobSlot, caps []JobCap, now time.Time) (full *JobCap, err error)
	// ReleaseJobSlot removes a slot; a missing one is not an error.
	ReleaseJobSlot(ctx context.Context, id string) error
}
