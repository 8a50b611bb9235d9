// Package webhooks carries aiproxy's webhooks both ways: an Outbox posts
// job events, signed, to the endpoints orgs register (from a durable
// outbox that job changes fill in the same transaction, with retries and a
// delivery log, and an address guard that keeps deliveries out of
// aiproxy's own network), and a Receiver accepts the providers' signed job
// webhooks and has the jobs service read the job's status at once.
// docs/jobs.md describes the wire formats.
package webhooks
