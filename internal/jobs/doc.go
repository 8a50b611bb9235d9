// Package jobs owns the lifecycle of asynchronous provider jobs, such as
// HeyGen video renders, that clients start through the call pipeline.
//
// A Service gives the proxy's pipeline its hooks for the endpoints the
// catalog marks (hook.go): a call to an endpoint with a "job" block creates
// a durable job record from the provider's answer before the client sees
// it, and a call to an endpoint with a "job_status" block is answered from
// that record, with one provider read shared by every concurrent or rapid
// caller, and only for the org that created the job. Every other call runs
// the pipeline without them.
//
// Beside the pipeline, a tracker keeps unfinished jobs fresh in the
// background (bounded concurrency, backoff, Retry-After, a deadline),
// clients can wait for a job to change, and running-job caps hold back
// starts. Everything it knows lives in the store, so a restarted process
// carries on where the last one stopped. The Idempotency-Key hooks
// (package idempotency) and the webhooks both ways (package webhooks) run
// beside it. docs/jobs.md describes the lifecycle.
package jobs
