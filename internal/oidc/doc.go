// Package oidc verifies the JSON Web Tokens that an org's identity
// provider issues to its people, so that they can sign in to aiproxy
// without an aiproxy key: the platform's own sign-in.
//
// An operator lists the identity providers aiproxy trusts in a file of
// Issuer entries (Load, LoadFile), each serving one org, or every org when
// the token names its org in a claim. A Verifier (New) picks the entry by
// the token's issuer, checks the token with go-oidc (algorithm, signature,
// issuer) and then with the entry's own rules (audience, expiry with
// leeway, not-before, maximum lifetime, required claims, org), and maps
// the claims to an Identity. Every refusal is the contract's "Invalid
// token." with its cause kept for the log only.
//
// Providers are discovered lazily, on the first token that names them,
// and retried with backoff while they are down, so that aiproxy starts
// whatever state its identity providers are in. Their key sets are
// cached, refetched when a token names an unknown key at most once per
// cooldown, and kept when the provider cannot be reached. Every fetch goes
// through the egress guard, with a timeout and a cap on the body.
// docs/oidc.md describes the file, the defaults and the key cache.
package oidc
