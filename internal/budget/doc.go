// Package budget enforces spending budgets on the call pipeline. An org
// sets budgets in micro-USD per calendar window on itself, its keys, its
// users (a default for each user, and overrides) and its user tokens; a
// user token may also carry its own lifetime cap.
//
// Before a call that costs money reaches the provider, the Enforcer
// prices it (Pricer, from a versioned price table) and reserves the price
// on every budget that applies, all or nothing, in an
// aiproxy.BudgetLedger; after the call it settles the actual cost, or
// releases the hold when the call failed. A job start keeps its hold until
// the job ends (SettleJob). The Admin serves the management API:
// definitions with validation, and what each budget has left.
//
// See docs/budgets.md.
package budget
