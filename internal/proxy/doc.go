// Package proxy is aiproxy's invoke path: it turns a client's envelope into
// one upstream request to a provider, injects the resolved credential into
// that outbound request only, and streams the provider's answer back.
//
// The inbound request is never changed. Headers are allow-listed in both
// directions. Failures are mapped by cause in one place: a dial or protocol
// failure is 502, a timeout 504, and a client that went away is logged as 499.
package proxy
