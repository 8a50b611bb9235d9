// Package httpapi is aiproxy's HTTP adapter: the routes of the contract
// (discovery and invoke), the admin API, authentication, and the one
// function that renders every error.
//
// Handlers return errors; renderError turns each into the contract's JSON
// shape with a status from one table. An error without a code is internal:
// it is logged and its text never reaches the client.
package httpapi
