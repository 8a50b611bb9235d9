package admin

import "github.com/aiproxy/aiproxy/internal/aiproxy"

// OnCredentialChange makes the service call f after every credential it
// sets or deletes, with the credential's source, org ("" for the platform)
// and name, so that caches of opened credentials in this process forget
// it at once. Call it before the service is shared.
func (s *Service) OnCredentialChange(f func(src aiproxy.Source, org, name string)) {
	s.credChanged = f
}

// credentialChanged tells the hook, if any, that a credential changed.
func (s *Service) credentialChanged(src aiproxy.Source, org, name string) {
	if s.credChanged != nil {
		s.credChanged(src, org, name)
	}
}
