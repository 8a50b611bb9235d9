// Package jobs owns the lifecycle of asynchronous provider jobs, such as
// HeyGen video renders, that clients start through the invoke path.
//
// A Service wraps the proxy as an invoker. It intercepts only the endpoints
// the catalog marks: a call to an endpoint with a "job" block creates a
// durable job record (honouring an Idempotency-Key), and a call to an endpoint
// with a "job_status" block is answered from that record, with one provider
// call shared by every concurrent or rapid caller, and only for the org that
// created the job. Every other call goes to the proxy unchanged.
//
// Beside the invoke path, the Service tracks unfinished jobs in the
// background (bounded concurrency, backoff, Retry-After, a deadline), accepts
// the providers' signed job webhooks, and delivers signed job events to the
// webhook endpoints orgs register, from a durable outbox. Everything it
// knows lives in the store, so a restarted process carries on where the last
// one stopped. docs/jobs.md describes the lifecycle and the wire formats.
package jobs
