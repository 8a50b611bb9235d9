package sandbox

import (
	"math/rand/v2"
	"sync"
)

// defaultCharacterLimit is every ElevenLabs key's character_limit unless
// Config.CharacterLimit sets another (the Creator tier's).
const defaultCharacterLimit = elCharacterLimit

// characterLimit is the per-key ElevenLabs character quota in force.
func (s *Server) characterLimit() int {
	if s.cfg.CharacterLimit > 0 {
		return s.cfg.CharacterLimit
	}
	return defaultCharacterLimit
}

// growAvatars adds generated avatars until the catalog holds n, so that a
// benchmark can ask for a list of a chosen size. Fewer than the seeded count
// changes nothing. The extra avatars are as deterministic as the rest.
func (c *heygenCatalog) growAvatars(n int, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6772_6f77))
	for len(c.avatars) < n {
		c.addAvatar(c.generatedAvatar(rng))
	}
}

// speechMemo keeps the last speech synthesized, for Config.MemoizeSpeech.
type speechMemo struct {
	mu  sync.Mutex
	key string
	sp  synthesized
}

// speech renders a job's audio, reusing the last rendering when
// Config.MemoizeSpeech is set and the input is the same. Synthesis is
// deterministic, so the bytes are identical either way.
func (s *Server) speech(job ttsJob) synthesized {
	if !s.cfg.MemoizeSpeech {
		return synthesize(job.text, job.voiceID, job.model.ID, job.format)
	}
	key := job.voiceID + "\x00" + job.model.ID + "\x00" + job.format.name + "\x00" + job.text
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key != key {
		m.sp = synthesize(job.text, job.voiceID, job.model.ID, job.format)
		m.key = key
	}
	return m.sp
}
