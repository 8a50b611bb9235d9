// Package ownership carves the platform's shared provider account into one
// private account per org. Orgs that fall back to the platform credential
// all reach one HeyGen or ElevenLabs account, where every video, asset,
// voice and history item would otherwise be everyone's. ownership is a hook
// on the proxy's pipeline (proxy.Hooks) that reads each endpoint's
// ownership rule from the catalog and, on the platform credential only:
//
//   - records the id of every object a call creates, as the calling org's;
//   - refuses, with the contract's 404 and no provider call, a call that
//     reads, changes, deletes or downloads an object another org created
//     or that aiproxy never saw, and a call whose request names another
//     org's object;
//   - filters the items of a list answer down to the org's own;
//   - refuses account-wide settings (provider webhooks, plan, quota) to org
//     keys with a 403; platform admins may use them.
//
// On an org's own (tenant) credential the account is the org's and calls
// pass, but creates are still recorded, so that an object made there stays
// the org's if the org later falls back to the platform credential.
package ownership
