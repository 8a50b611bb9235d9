package sandbox

// streamingState is HeyGen's legacy streaming sessions and tokens; Server.mu guards it.
type streamingState struct{}

// newStreamingState returns an empty state.
func newStreamingState() streamingState { return streamingState{} }
