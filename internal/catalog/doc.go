// Package catalog loads, validates and compiles aiproxy's data-driven service
// catalog: the services (HeyGen, ElevenLabs, …) the proxy can reach and the
// endpoints (actions) each one offers.
//
// The built-in catalog is one JSON file per service, embedded from
// services/*.json. An operator may add a directory of JSON files that override
// fields of a built-in service or describe new services; see Load and
// docs/catalog.md for the format and the merge rules. Every problem found is
// reported at once in a *ValidationError, and a loaded Catalog is immutable.
package catalog
