package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// KeyHealth is what the pool operations need of the health of pool keys:
// the engine the proxy uses (proxy.MemoryKeyHealth in one process,
// redis.KeyHealth across replicas).
type KeyHealth interface {
	KeyStates(ctx context.Context, pool aiproxy.PoolRef, ids []string) (map[string]aiproxy.KeyStatus, error)
	RestoreKey(ctx context.Context, pool aiproxy.PoolRef, id string) (prev aiproxy.KeyStatus, wasUnhealthy bool, err error)
}

// UseKeyHealth makes the pool operations read and restore keys in h, and
// makes every credential set or deleted start its keys healthy. Call it
// before the service is shared.
func (s *Service) UseKeyHealth(h KeyHealth) { s.health = h }

// KeyPool is a credential's keys as an admin sees them: masked, with their
// weights, caps and health. A credential of one key has one key without an
// id, whose health is not tracked.
type KeyPool struct {
	Credential aiproxy.Credential
	Pooled     bool
	Keys       []aiproxy.PoolKeyReport
}

// errNoKeyHealth is the answer where key health lives in another process:
// the server keeps it in memory when it has no Redis.
var errNoKeyHealth = aiproxy.Errorf(aiproxy.CodeNotFound,
	"Key health is kept in the server's memory here (no --redis-url): read and restore keys through the server's admin API.")

// KeyPool returns a credential's keys with their health. Without a health
// engine (a command run beside a server that keeps health in memory) the
// keys' state is unknown ("").
func (s *Service) KeyPool(ctx context.Context, src aiproxy.Source, org, name string) (KeyPool, error) {
	c, err := s.poolCredential(ctx, src, org, name)
	if err != nil {
		return KeyPool{}, err
	}
	infos := aiproxy.PoolKeysFromMasked(c.Masked)
	kp := KeyPool{Credential: c, Pooled: infos != nil}
	if !kp.Pooled {
		kp.Keys = []aiproxy.PoolKeyReport{{Info: aiproxy.PoolKeyInfo{Weight: 1, Masked: c.Masked},
			Status: aiproxy.KeyStatus{State: aiproxy.KeyHealthy}}}
		return kp, nil
	}
	states := map[string]aiproxy.KeyStatus{}
	if s.health != nil {
		if states, err = s.health.KeyStates(ctx, poolRef(c), infoIDs(infos)); err != nil {
			return KeyPool{}, fmt.Errorf("read key health: %w", err)
		}
	}
	for _, info := range infos {
		var st aiproxy.KeyStatus // unknown without a health engine
		if s.health != nil {
			st = states[info.ID].At(s.now())
		}
		kp.Keys = append(kp.Keys, aiproxy.PoolKeyReport{Info: info, Status: st})
	}
	return kp, nil
}

// RestoreKey puts a resting or removed key of a pool back in use, and
// records it in the audit log when it was not healthy.
func (s *Service) RestoreKey(ctx context.Context, src aiproxy.Source, org, name, id string) (aiproxy.PoolKeyReport, error) {
	c, err := s.poolCredential(ctx, src, org, name)
	if err != nil {
		return aiproxy.PoolKeyReport{}, err
	}
	var info *aiproxy.PoolKeyInfo
	for _, k := range aiproxy.PoolKeysFromMasked(c.Masked) {
		if k.ID == id {
			info = &k
		}
	}
	if info == nil {
		return aiproxy.PoolKeyReport{}, aiproxy.Errorf(aiproxy.CodeNotFound, "Credential %q has no key %q.", name, id)
	}
	if s.health == nil {
		return aiproxy.PoolKeyReport{}, errNoKeyHealth
	}
	prev, was, err := s.health.RestoreKey(ctx, poolRef(c), id)
	if err != nil {
		return aiproxy.PoolKeyReport{}, fmt.Errorf("restore key: %w", err)
	}
	rep := aiproxy.PoolKeyReport{Info: *info, Status: aiproxy.KeyStatus{State: aiproxy.KeyHealthy}}
	if !was {
		return rep, nil
	}
	detail := "source=" + string(src) + " was=" + string(prev.State)
	if prev.Reason != "" {
		detail += " reason=" + strconv.Quote(prev.Reason)
	}
	return rep, s.record(ctx, aiproxy.AuditPoolKeyRestored, org, name+"/"+id, detail)
}

// RecordKeyChange records in the audit log, as ActorAiproxy, a key the
// proxy took out of its pool after the provider refused it; rests come
// and go too often to be audited (the admin API and metrics show them).
// It is the proxy's PoolConfig.OnChange.
func (s *Service) RecordKeyChange(ctx context.Context, pool aiproxy.PoolRef, id string, st aiproxy.KeyStatus) error {
	if st.State != aiproxy.KeyRemoved {
		return nil
	}
	detail := "source=" + string(pool.Source)
	if st.Reason != "" {
		detail += " reason=" + strconv.Quote(st.Reason)
	}
	e := aiproxy.AuditEvent{At: s.now().UTC(), Actor: aiproxy.ActorAiproxy, Action: aiproxy.AuditPoolKeyRemoved,
		OrgKey: pool.OrgKey, Target: pool.Name + "/" + id, Detail: detail}
	if s.audit == nil {
		return nil
	}
	if err := s.audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("%s done, but not recorded in the audit log: %w", e.Action, err)
	}
	return nil
}

// poolCredential reads a credential the acting key may manage.
func (s *Service) poolCredential(ctx context.Context, src aiproxy.Source, org, name string) (aiproxy.Credential, error) {
	if err := checkOwner(src, org); err != nil {
		return aiproxy.Credential{}, err
	}
	if err := s.checkCredentialScope(ctx, name); err != nil {
		return aiproxy.Credential{}, err
	}
	c, err := s.store.Credential(ctx, src, org, name)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Credential{}, aiproxy.Errorf(aiproxy.CodeNotFound, "Credential %q not found.", name)
	}
	return c, err
}

// resetKeyHealth starts the keys of a credential that was set or deleted
// healthy: those it held before (old) and those it holds now.
func (s *Service) resetKeyHealth(ctx context.Context, ref aiproxy.PoolRef, old, now map[string]string) error {
	if s.health == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, masked := range []map[string]string{old, now} {
		for _, k := range aiproxy.PoolKeysFromMasked(masked) {
			if seen[k.ID] {
				continue
			}
			seen[k.ID] = true
			if _, _, err := s.health.RestoreKey(ctx, ref, k.ID); err != nil {
				return fmt.Errorf("credential %q changed, but its keys' health could not be reset: %w", ref.Name, err)
			}
		}
	}
	return nil
}

// oldMasked is the masked preview of the credential about to change, when
// key health is kept; nil when there is none.
func (s *Service) oldMasked(ctx context.Context, src aiproxy.Source, org, name string) map[string]string {
	if s.health == nil {
		return nil
	}
	c, err := s.store.Credential(ctx, src, org, name)
	if err != nil {
		return nil
	}
	return c.Masked
}

func poolRef(c aiproxy.Credential) aiproxy.PoolRef {
	return aiproxy.PoolRef{Source: c.Source, OrgKey: c.OrgKey, Name: c.Name}
}

func infoIDs(infos []aiproxy.PoolKeyInfo) []string {
	ids := make([]string, len(infos))
	for i, k := range infos {
		ids[i] = k.ID
	}
	return ids
}
