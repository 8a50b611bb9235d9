// Package aiproxy holds aiproxy's domain vocabulary: organizations, API keys,
// services and their endpoints, credentials, the error type with its closed
// set of codes, and the storage contracts that adapters implement.
//
// It imports only the standard library. Every other package of the project
// points inward to it; it points to none of them.
package aiproxy
