// Package speechcache answers repeated text-to-speech calls with audio
// already paid for. Speech is billed per character, and course platforms
// ask for the same greetings and lesson lines for every learner; an
// identical request (same text, voice, model, settings and output format,
// on the same provider account and for the same org) is answered from disk
// with the headers the provider gave, and reaches no provider.
//
// The cache is a hook on the call pipeline (Cache, hook.go), opt-in per org
// (Orgs) and per endpoint: the catalog's speech_cache rule says which
// request fields identify an answer and which make a call uncacheable
// (key.go). A miss goes to the provider as usual while its answer is copied
// to the store as the client receives it (tee.go); concurrent misses of
// one key make one provider call (flight.go). A hit's usage record shows
// what the provider would have charged for it as saved, priced from the
// entry's own count of what its first call cost (Pricer, saved.go).
// Entries live behind the Store interface; FS keeps them in a directory,
// bounded in bytes, least recently used out first, across restarts
// (fs.go).
package speechcache
